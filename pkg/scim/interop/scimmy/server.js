// A SCIM 2.0 service provider built from SCIMMY (the resource, schema,
// filter and PATCH logic) and scimmy-routers (the HTTP endpoints), for
// Keycard's interoperability test (pkg/scim/interop_test.go). Every SCIM
// decision is the library's: this file only stores what SCIMMY hands it
// (ingress), returns what it asks for (egress) and deletes (degress), the
// way the handler examples in SCIMMY's documentation do. In particular
// PATCH is SCIMMY's own read-apply-write, so what a query parameter does
// to it is what it does in any SCIMMY-based server.
//
// Usage: SCIM_TOKEN=<bearer token> node server.js [--port N] [--enterprise]
//   --port N       listen on 127.0.0.1:N (0 or absent: a free port)
//   --enterprise   declare the enterprise User extension (RFC 7643 §4.3);
//                  without it /ResourceTypes lists none, as at many vendors
// When ready it prints one line, "listening 127.0.0.1:PORT", on stdout.
// The token is read from the environment so it is not on a command line.
import crypto from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const args = process.argv.slice(2);
let port = 0;
let enterprise = false;
for (let i = 0; i < args.length; i++) {
    switch (args[i]) {
        case "--port":
            port = Number(args[++i]);
            break;
        case "--enterprise":
            enterprise = true;
            break;
        default:
            fail(`unknown argument ${JSON.stringify(args[i])}`);
    }
}
if (!Number.isInteger(port) || port < 0 || port > 65535) fail("--port wants a number from 0 to 65535");
const token = process.env.SCIM_TOKEN ?? "";
if (token.length < 16) fail("SCIM_TOKEN must be set to a bearer token of at least 16 characters");

function fail(msg) {
    process.stderr.write(`server.js: ${msg}\n`);
    process.exit(2);
}

// A store per resource type: id → the resource as SCIMMY last wrote it.
function store(Resource, unique) {
    const items = new Map();
    const now = () => new Date().toISOString();
    const notFound = (id) => new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
    // A unique index, as a database would keep one: a second resource with
    // the same value of a unique attribute is a 409 (RFC 7644 §3.3).
    const clash = (id, instance) => {
        for (const [other, item] of items) {
            if (other === id) continue;
            for (const attr of unique) {
                const a = instance[attr], b = item[attr];
                if (a !== undefined && b !== undefined && String(a).toLowerCase() === String(b).toLowerCase())
                    return new SCIMMY.Types.Error(409, "uniqueness", `${attr} is already taken`);
            }
        }
        return null;
    };
    Resource
        .ingress((resource, instance) => {
            const id = resource.id ?? crypto.randomUUID();
            const old = items.get(id);
            if (resource.id && !old) throw notFound(resource.id);
            const err = clash(id, instance);
            if (err) throw err;
            // Stored as given: a write replaces the resource (PUT semantics,
            // and SCIMMY's PATCH writes the whole patched resource).
            const item = {...JSON.parse(JSON.stringify(instance)), id,
                meta: {created: old?.meta?.created ?? now(), lastModified: now()}};
            items.set(id, item);
            return item;
        })
        .egress((resource) => {
            if (resource.id) {
                const item = items.get(resource.id);
                if (!item) throw notFound(resource.id);
                return item;
            }
            const all = [...items.values()];
            return resource.filter ? resource.filter.match(all) : all;
        })
        .degress((resource) => {
            if (!items.delete(resource.id)) throw notFound(resource.id);
        });
}

const User = enterprise ? SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false) : SCIMMY.Resources.User;
store(User, ["userName", "externalId"]);
store(SCIMMY.Resources.Group, ["displayName"]);
SCIMMY.Resources.declare(User);
SCIMMY.Resources.declare(SCIMMY.Resources.Group);

const want = Buffer.from(token);
const app = express();
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (req) => {
        const [scheme, got = ""] = (req.header("authorization") ?? "").split(" ", 2);
        const b = Buffer.from(got);
        if (scheme.toLowerCase() !== "bearer" || b.length !== want.length || !crypto.timingSafeEqual(b, want))
            throw new Error("missing or invalid bearer token");
        return "keycard";
    },
}));

const server = app.listen(port, "127.0.0.1", () => {
    process.stdout.write(`listening 127.0.0.1:${server.address().port}\n`);
});
server.on("error", (err) => fail(err.message));
// Stop cleanly when the test ends us or closes our stdin.
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
