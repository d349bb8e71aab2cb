package googletest

import (
	"net/http"
	"slices"
	"strings"
)

// Bounds of the License Manager's listings.
const (
	defaultLicencePage = 100
	maxLicencePage     = 1000
)

// Licence answers the fake gives where Google's wording is not documented
// (unverified): a user holds at most one SKU of a product, and a second
// assignment, or one beyond the seats, is refused with 412
// conditionNotMet, as GAM users report.
func (s *Server) licenceJSON(product, sku, uid string) map[string]any {
	email := uid
	if u := s.db.users[uid]; u != nil {
		email = u.PrimaryEmail
	}
	return map[string]any{
		"kind": "licensing#licenseAssignment", "etags": etag(product, sku, uid), "productId": product, "skuId": sku,
		"userId": email, "productName": product, "skuName": sku,
		"selfLink": s.ts.URL + "/apps/licensing/v1/product/" + product + "/sku/" + sku + "/user/" + email,
	}
}

func (s *Server) held(product string) map[string]string {
	m, ok := s.db.licences[product]
	if !ok {
		m = map[string]string{}
		s.db.licences[product] = m
	}
	return m
}

func (s *Server) seatsLeft(product, sku string) bool {
	most, capped := s.db.seats[product+"/"+sku]
	if !capped {
		return true
	}
	n := 0
	for _, held := range s.db.licences[product] {
		if held == sku {
			n++
		}
	}
	return n < most
}

// insertLicence is licenseAssignments.insert, body {"userId": address}.
func (s *Server) insertLicence(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	product, sku := r.PathValue("productId"), r.PathValue("skuId")
	fields, err := decodeFields(r)
	if err != nil {
		return err
	}
	var userID string
	if err := field(fields, "userId", &userID); err != nil {
		return err
	}
	uid := s.db.userID(userID)
	if uid == "" {
		return errorf(http.StatusBadRequest, ReasonInvalid, "Invalid value for: userId")
	}
	held := s.held(product)
	switch cur, ok := held[uid]; {
	case ok && cur == sku:
		return errorf(http.StatusPreconditionFailed, ReasonConditionNotMet, "User already has a license for the specified product and SKU")
	case ok:
		return errorf(http.StatusPreconditionFailed, ReasonConditionNotMet, "User already has a license for the specified product")
	case !s.seatsLeft(product, sku):
		return errorf(http.StatusPreconditionFailed, ReasonConditionNotMet, "User license limit exceeded")
	}
	held[uid] = sku
	writeJSON(w, http.StatusOK, s.licenceJSON(product, sku, uid))
	return nil
}

func (s *Server) getLicence(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	product, sku := r.PathValue("productId"), r.PathValue("skuId")
	uid := s.db.userID(r.PathValue("userId"))
	if uid == "" || s.db.licences[product][uid] != sku {
		return errorf(http.StatusNotFound, ReasonNotFound, "User does not have a license for specified sku and product")
	}
	writeJSON(w, http.StatusOK, s.licenceJSON(product, sku, uid))
	return nil
}

// moveLicence is licenseAssignments.patch and update: the user's SKU in
// the path becomes the body's skuId, of the same product.
func (s *Server) moveLicence(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	product, sku := r.PathValue("productId"), r.PathValue("skuId")
	uid := s.db.userID(r.PathValue("userId"))
	held := s.held(product)
	if uid == "" || held[uid] != sku {
		return errorf(http.StatusNotFound, ReasonNotFound, "User does not have a license for specified sku and product")
	}
	fields, err := decodeFields(r)
	if err != nil {
		return err
	}
	var to, toProduct string
	if err := field(fields, "skuId", &to); err != nil {
		return err
	}
	if err := field(fields, "productId", &toProduct); err != nil {
		return err
	}
	switch {
	case to == "":
		return errorf(http.StatusBadRequest, ReasonRequired, "Missing required field: skuId")
	case toProduct != "" && toProduct != product:
		return invalid("Invalid productId: a licence moves within its product")
	case to != sku && !s.seatsLeft(product, to):
		return errorf(http.StatusPreconditionFailed, ReasonConditionNotMet, "User license limit exceeded")
	}
	held[uid] = to
	writeJSON(w, http.StatusOK, s.licenceJSON(product, to, uid))
	return nil
}

func (s *Server) deleteLicence(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	product, sku := r.PathValue("productId"), r.PathValue("skuId")
	uid := s.db.userID(r.PathValue("userId"))
	held := s.held(product)
	if uid == "" || held[uid] != sku {
		return errorf(http.StatusNotFound, ReasonNotFound, "User does not have a license for specified sku and product")
	}
	delete(held, uid)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listLicences is listForProduct and listForProductAndSku: customerId is
// the customer's id (the primary domain is refused, as Google now does),
// by user address.
func (s *Server) listLicences(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	product, sku := r.PathValue("productId"), r.PathValue("skuId")
	q := r.URL.Query()
	if q.Get("customerId") != s.customer {
		return errorf(http.StatusBadRequest, ReasonInvalid, "Invalid value for: customerId")
	}
	type row struct{ email, uid, sku string }
	var rows []row
	for uid, held := range s.db.licences[product] {
		if sku != "" && held != sku {
			continue
		}
		email := uid
		if u := s.db.users[uid]; u != nil {
			email = u.PrimaryEmail
		}
		rows = append(rows, row{email, uid, held})
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.email, b.email) })
	return writePage(w, r, "licensing#licenseAssignmentList", "items", defaultLicencePage, maxLicencePage, rows,
		func(rw row) string { return rw.email }, func(rw row) any { return s.licenceJSON(product, rw.sku, rw.uid) })
}

// SetSeats caps the assignments of product's sku at n (no cap by default).
func (s *Server) SetSeats(product, sku string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db.seats[product+"/"+sku] = n
}

// Licence returns the SKU of product the user a key names holds, or "".
func (s *Server) Licence(product, userKey string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.licences[product][s.db.userID(userKey)]
}

// AssignLicence gives the user sku of product, as an admin would by hand.
func (s *Server) AssignLicence(product, sku, userKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uid := s.db.userID(userKey)
	if uid == "" {
		panic("googletest: AssignLicence: no user " + userKey)
	}
	s.held(product)[uid] = sku
}
