package webhook

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vectors are shared/reference/bamboohr.md §6, bodies under testdata/.
var vectors = []struct {
	name, file, key, ts, sig string
	negatives                []string // ts‖body and body-only signatures
}{
	{name: "A fusebit fixture", file: "vector-a.json", key: "123b929362d51613054f71e5e5d4bf2c", ts: "1658248023",
		sig: "56491dd9c2b352bc5f4fc627159aae20ddff9c8cb19f239a6de6771dc5310bac"},
	{name: "B event-based move", file: "vector-b.json", key: "test-private-key-not-real", ts: "1795629600",
		sig:       "7b2bbe1536577ab343a57ad2a9054539105bc45271e1653eb53da3f8abdb0cd5",
		negatives: []string{"18999da95113e7dab923631c39c619bbcd3962e7fefc196b74bd22acda88d289", "c315acf951cb04b2cb257a5f8eca535f89fdfc11d7bc02fe17862c6a39d80c6f"}},
	{name: "C field-based termination", file: "vector-c.json", key: "test-private-key-not-real", ts: "1795629600",
		sig:       "d3425aec85f546cf935e41689a0b567a6ca6217e31bcd100f5093baf17ce5c58",
		negatives: []string{"e85a185d8e05ab4a63630333e10f59175bcf4280fb826d4b814fecd2ffc87518", "fd591b1ac334e8e3da49ede49b6aab9c75bb1a9d885afca2651c97d79d5da6eb"}},
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectors(t *testing.T) {
	t.Parallel()
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			body := readTestdata(t, v.file)
			if got := Sign([]byte(v.key), body, v.ts); got != v.sig {
				t.Fatalf("Sign = %s, want %s", got, v.sig)
			}
			ver := Verifier{Key: []byte(v.key)}
			if err := ver.Verify(body, v.ts, v.sig); err != nil {
				t.Fatalf("Verify(valid) = %v", err)
			}
			if err := ver.Verify(body, v.ts, strings.ToUpper(v.sig)); err != nil {
				t.Fatalf("Verify(uppercase hex) = %v", err)
			}
			for _, neg := range v.negatives {
				if err := ver.Verify(body, v.ts, neg); !errors.Is(err, ErrBadSignature) {
					t.Errorf("Verify(negative %s…) = %v, want ErrBadSignature", neg[:8], err)
				}
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	key := []byte("k")
	body := readTestdata(t, "vector-b.json")
	now := time.Unix(1795629600, 0)
	ts := "1795629600"
	good := Sign(key, body, ts)
	ver := Verifier{Key: key, MaxAge: 3 * time.Hour, MaxFuture: 5 * time.Minute, Now: func() time.Time { return now }}
	tests := []struct {
		name      string
		body      []byte
		ts, sig   string
		key       []byte
		want      error
		wantNoErr bool
	}{
		{name: "valid", body: body, ts: ts, sig: good, wantNoErr: true},
		{name: "missing signature", body: body, ts: ts, want: ErrMissingSignature},
		{name: "missing timestamp", body: body, sig: good, want: ErrMissingTimestamp},
		{name: "wrong key", body: body, ts: ts, sig: Sign([]byte("other"), body, ts), want: ErrBadSignature},
		{name: "body changed", body: append([]byte(" "), body...), ts: ts, sig: good, want: ErrBadSignature},
		{name: "timestamp changed", body: body, ts: "1795629601", sig: good, want: ErrBadSignature},
		{name: "truncated signature", body: body, ts: ts, sig: good[:63], want: ErrBadSignature},
		{name: "not hex", body: body, ts: ts, sig: strings.Repeat("z", 64), want: ErrBadSignature},
		{name: "BambooHR's last retry, 155 minutes old", body: body, ts: "1795620300", sig: Sign(key, body, "1795620300"), wantNoErr: true},
		{name: "older than the window", body: body, ts: "1795618799", sig: Sign(key, body, "1795618799"), want: ErrStaleTimestamp},
		{name: "too far in the future", body: body, ts: "1795630000", sig: Sign(key, body, "1795630000"), want: ErrStaleTimestamp},
		{name: "RFC 3339 timestamp", body: body, ts: "2026-11-25T17:59:00Z", sig: Sign(key, body, "2026-11-25T17:59:00Z"), wantNoErr: true},
		{name: "unparseable timestamp", body: body, ts: "yesterday", sig: Sign(key, body, "yesterday"), want: ErrBadTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ver.Verify(tt.body, tt.ts, tt.sig)
			if tt.wantNoErr {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), good) || strings.Contains(err.Error(), string(key)+"\"") {
				t.Fatalf("error leaks the signature: %v", err)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	for _, s := range []string{"2026-11-25T18:00:00+0000", "2026-11-25T18:00:00Z", "2026-11-25T19:00:00+01:00", "2026-11-25 18:00:00", "2026-11-25T18:00:00.000+0000"} {
		got, err := ParseTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseTime("25/11/2026"); err == nil {
		t.Error("ParseTime accepted a non-ISO date")
	}
}

// FuzzVerify: Verify never panics, and accepts exactly the signatures Sign
// produces for the same inputs.
func FuzzVerify(f *testing.F) {
	for _, v := range vectors {
		f.Add([]byte(v.key), readTestdata(f, v.file), v.ts, v.sig)
	}
	f.Fuzz(func(t *testing.T, key, body []byte, ts, sig string) {
		ver := Verifier{Key: key}
		err := ver.Verify(body, ts, sig)
		valid := sig != "" && ts != "" && strings.EqualFold(strings.TrimSpace(sig), Sign(key, body, ts))
		if valid != (err == nil) {
			t.Fatalf("Verify = %v, but Sign match = %v", err, valid)
		}
		if ts != "" {
			if err := ver.Verify(body, ts, Sign(key, body, ts)); err != nil {
				t.Fatalf("Verify rejected its own signature: %v", err)
			}
		}
	})
}
