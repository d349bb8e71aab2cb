package google

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	licensing "google.golang.org/api/licensing/v1"
)

// heldSKU is the SKU of the product the user holds among the policy's
// (want) and LicenseSKUs, or "" when none: Google answers "does the user
// hold this SKU" (licenseAssignments.get, 404 when not), not "which",
// so each SKU tried is one read, the wanted one first.
func (c *Connector) heldSKU(ctx context.Context, email, want string) (string, error) {
	for _, sku := range c.candidates(want) {
		_, err := call(ctx, c, "licenseAssignments.get", read, func(ctx context.Context) (*licensing.LicenseAssignment, error) {
			return c.lic.LicenseAssignments.Get(c.product, sku, email).Context(ctx).Do()
		})
		switch {
		case err == nil:
			return sku, nil
		case !IsNotFound(err):
			return "", err
		}
	}
	return "", nil
}

func (c *Connector) candidates(want string) []string {
	out := []string{want}
	for _, s := range c.skus {
		if s != want {
			out = append(out, s)
		}
	}
	return out
}

// assign gives the user the wanted SKU: moved from held
// (licenseAssignments.patch, within the product) when they hold one,
// inserted otherwise. An insert Google refuses because the assignment
// exists (409, or 412 conditionNotMet) is success once a read shows it;
// otherwise the refusal stands (no seat left, or the user holds a SKU
// not in LicenseSKUs), permanent.
func (c *Connector) assign(ctx context.Context, email, held, want string, k kind) error {
	switch {
	case held == want:
		return nil
	case held != "":
		_, err := call(ctx, c, "licenseAssignments.patch", k, func(ctx context.Context) (*licensing.LicenseAssignment, error) {
			return c.lic.LicenseAssignments.Patch(c.product, held, email, &licensing.LicenseAssignment{ProductId: c.product, SkuId: want}).Context(ctx).Do()
		})
		return err
	}
	_, err := call(ctx, c, "licenseAssignments.insert", k, func(ctx context.Context) (*licensing.LicenseAssignment, error) {
		return c.lic.LicenseAssignments.Insert(c.product, want, &licensing.LicenseAssignmentInsert{UserId: email}).Context(ctx).Do()
	})
	if !hasStatus(err, http.StatusConflict) && !hasStatus(err, http.StatusPreconditionFailed) {
		return err
	}
	refused := err
	_, err = call(ctx, c, "licenseAssignments.get", read, func(ctx context.Context) (*licensing.LicenseAssignment, error) {
		return c.lic.LicenseAssignments.Get(c.product, want, email).Context(ctx).Do()
	})
	switch {
	case err == nil:
		return nil
	case IsNotFound(err):
		return fmt.Errorf("licence %s of %s: %w (no seat left, or the user holds another SKU of the product: add it to license_skus so Keycard moves it)", want, c.product, refused)
	}
	return err
}

// allLicences maps user addresses to the SKU of the product they hold.
func (c *Connector) allLicences(ctx context.Context, customerID string) (map[string]string, error) {
	out := map[string]string{}
	token := ""
	for {
		res, err := call(ctx, c, "licenseAssignments.listForProduct", read, func(ctx context.Context) (*licensing.LicenseAssignmentList, error) {
			return c.lic.LicenseAssignments.ListForProduct(c.product, customerID).MaxResults(licencePage).PageToken(token).Context(ctx).Do()
		})
		if err != nil {
			return nil, err
		}
		for _, a := range res.Items {
			out[strings.ToLower(a.UserId)] = a.SkuId
		}
		if token = res.NextPageToken; token == "" {
			return out, nil
		}
	}
}
