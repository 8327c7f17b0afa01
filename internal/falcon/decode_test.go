package falcon

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crowdstrike/gofalcon/falcon/models"
)

// asJSON is the comparison form of decoded findings: nil and empty slices
// are the same there (every slice of the records is omitempty).
func asJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The lean decoder, the encoding/json decoder and gofalcon's models with
// FindingFromModel must agree field for field on the same bytes.
func TestDecodersAgree(t *testing.T) {
	for _, tc := range []struct {
		name string
		seed uint64
		n    int
		bad  bool
	}{
		{"empty page", 1, 0, false},
		{"one finding", 2, 1, false},
		{"many findings", 3, 300, false},
		{"bad timestamps", 4, 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := genModels(tc.seed, tc.n, tc.bad)
			page := genPage(t, res, "cursor-7", 12345)

			var badFast, badStd, badModel atomic.Int64
			fast, meta, err := newFindingsDecoder(&badFast, nil).decode(page, nil)
			if err != nil {
				t.Fatalf("lean decoder: %v", err)
			}
			std, stdMeta, err := decodeFindingsPageStd(page, &badStd)
			if err != nil {
				t.Fatalf("encoding/json decoder: %v", err)
			}
			var m models.DomainSPAPICombinedVulnerabilitiesResponse
			if err := json.Unmarshal(page, &m); err != nil {
				t.Fatal(err)
			}
			fromModels := make([]Finding, len(m.Resources))
			for i, r := range m.Resources {
				fromModels[i] = findingFromModel(r, &badModel)
			}
			if len(fast) != tc.n {
				t.Fatalf("lean decoder returned %d findings, want %d", len(fast), tc.n)
			}
			if meta.After != "cursor-7" || meta.Total != 12345 || meta.TraceID != "trace-1" || !meta.HasResources {
				t.Errorf("meta = %+v", meta)
			}
			if stdMeta.After != meta.After || stdMeta.Total != meta.Total {
				t.Errorf("std meta = %+v, lean meta = %+v", stdMeta, meta)
			}
			for i := range fast {
				f, s, mo := asJSON(t, fast[i]), asJSON(t, std[i]), asJSON(t, fromModels[i])
				if f != mo {
					t.Fatalf("finding %d: lean decoder and models differ\nlean:   %s\nmodels: %s", i, f, mo)
				}
				if s != mo {
					t.Fatalf("finding %d: encoding/json decoder and models differ\nstd:    %s\nmodels: %s", i, s, mo)
				}
			}
			if badFast.Load() != badModel.Load() || badStd.Load() != badModel.Load() {
				t.Errorf("bad timestamps counted: lean %d, std %d, models %d", badFast.Load(), badStd.Load(), badModel.Load())
			}
			if tc.bad && badFast.Load() == 0 {
				t.Errorf("no bad timestamp counted in a page generated with some")
			}
			if !tc.bad && badFast.Load() != 0 {
				t.Errorf("%d bad timestamps counted in a clean page", badFast.Load())
			}
		})
	}
}

func TestDecodeFindingsPageExported(t *testing.T) {
	res := genModels(9, 25, false)
	fs, after, total, err := DecodeFindingsPage(bytes.NewReader(genPage(t, res, "next", 99)))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 25 || after != "next" || total != 99 {
		t.Fatalf("got %d findings, after %q, total %d", len(fs), after, total)
	}
	for i, f := range fs {
		if f.ID != *res[i].ID || f.CVE != res[i].VulnerabilityID {
			t.Fatalf("finding %d = %q/%q, want %q/%q", i, f.ID, f.CVE, *res[i].ID, res[i].VulnerabilityID)
		}
	}
}

func TestDecodeDerivedFields(t *testing.T) {
	page := `{"meta":{"pagination":{"after":"","total":1}},"resources":[{
		"id":"f1","aid":"a1","vulnerability_id":"CSVULN-1","status":"open",
		"created_timestamp":"2024-03-01T10:00:00.123456Z","updated_timestamp":"2024-03-02T10:00:00+02:00",
		"app":{"product_name_normalized":"Chrome","product_name_version":"Chrome 120"},
		"apps":[{"product_name_normalized":"Chrome","product_name_version":"Chrome 120","vendor_normalized":"Google",
		         "sub_status":"open","patch_publication_date":"2024-01-10T00:00:00Z","remediation":{"ids":["r1","r2"]}},
		        {"product_name_normalized":"Other","remediation":{"ids":["r2","r3"]}}],
		"host_info":{"hostname":"h1","platform_name":"Linux","groups":["plain-name",{"id":"g-only"},{"id":"g2","name":"Named"}]},
		"cve":{"is_cisa_kev":true,"cisa_due_date":"2024-04-01","exploit_status":90}
	}],"errors":[]}`
	fs, _, _, err := DecodeFindingsPage(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	f := fs[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"CVE falls back to vulnerability_id", f.CVE, "CSVULN-1"},
		{"remediation ids from apps, deduplicated", strings.Join(f.RemediationIDs, ","), "r1,r2,r3"},
		{"App vendor from matching apps entry", f.App.Vendor, "Google"},
		{"App sub status", f.App.SubStatus, "open"},
		{"App patch date", f.App.PatchPublished, "2024-01-10T00:00:00Z"},
		{"platform_name accepted", f.Host.Platform, "Linux"},
		{"groups: names, ids when unnamed", strings.Join(f.Host.Groups, ","), "plain-name,g-only,Named"},
		{"direct is_cisa_kev", f.CVEInfo.IsCISAKEV, true},
		{"cisa due date", f.CVEInfo.CISADueDate, "2024-04-01"},
		{"exploit status", f.CVEInfo.ExploitStatus, 90},
		{"fractional timestamp", f.Created, time.Date(2024, 3, 1, 10, 0, 0, 123456000, time.UTC)},
		{"offset normalised to UTC", f.Updated, time.Date(2024, 3, 2, 8, 0, 0, 0, time.UTC)},
		{"open finding has no closed time", f.Closed == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDecodeRejectsMalformedPages(t *testing.T) {
	good := string(genPage(t, genModels(5, 3, false), "a", 3))
	for _, tc := range []struct {
		name, doc string
		validJSON bool // well-formed JSON of the wrong shape or types
	}{
		{"empty body", "", false},
		{"truncated mid-page", good[:len(good)/2], false},
		{"truncated before the end", good[:len(good)-1], false},
		{"resources is an object", `{"meta":{},"resources":{"vulnerabilities":"wrong shape"},"errors":[]}`, true},
		{"trailing garbage", good + "x", false},
		{"two documents", good + good, false},
		{"bad escape", `{"resources":[{"id":"a\qb"}]}`, false},
		{"raw control character", "{\"resources\":[{\"id\":\"a\x01b\"}]}", false},
		{"unterminated string", `{"resources":[{"id":"abc`, false},
		{"bad number", `{"resources":[{"cve":{"base_score":1.}}]}`, false},
		{"leading zero", `{"resources":[{"cve":{"exploit_status":01}}]}`, false},
		{"fractional int", `{"resources":[{"cve":{"exploit_status":1.5}}]}`, true},
		{"string where number expected", `{"resources":[{"cve":{"base_score":"9.8"}}]}`, true},
		{"number where string expected", `{"resources":[{"id":7}]}`, true},
		{"missing colon", `{"resources" []}`, false},
		{"trailing comma in array", `{"resources":[{"id":"a"},]}`, false},
		{"trailing comma in object", `{"resources":[{"id":"a",}]}`, false},
		{"bare word", `{"resources":[{"extra":nope}]}`, false},
		{"deep nesting", `{"x":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := DecodeFindingsPage(strings.NewReader(tc.doc))
			if err == nil {
				t.Fatal("malformed page decoded without error")
			}
			if json.Valid([]byte(tc.doc)) != tc.validJSON {
				t.Fatalf("json.Valid = %v, table says %v", !tc.validJSON, tc.validJSON)
			}
		})
	}
}

// Strings must unescape exactly as encoding/json does, including lone
// surrogates and invalid UTF-8 (both become U+FFFD).
func TestLexerStringsMatchEncodingJSON(t *testing.T) {
	for _, raw := range []string{
		`"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u00e9\u4e2d"`, `"\ud83d\ude00"`, `"lone \ud83d x"`,
		`"lone low \ude00"`, `"high then escape \ud83d\n"`, `"two highs \ud83d\ud83d\ude00"`, "\"raw ü ✓ 😀\"",
		"\"bad utf8 \xff\xfe x\"", "\"truncated rune \xe2\x82\"", `""`, `"\u0000"`, "\"\u2028\"",
	} {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("%q: encoding/json: %v", raw, err)
		}
		l := &lexer{data: []byte(raw)}
		got, err := l.str()
		if err != nil {
			t.Fatalf("%q: lexer: %v", raw, err)
		}
		if got != want {
			t.Errorf("%q: lexer %q, encoding/json %q", raw, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"", time.Time{}, false},
		{"2024-05-06T07:08:09Z", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), false},
		{"2024-05-06T07:08:09.123456789Z", time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC), false},
		{"2024-05-06T07:08:09-05:00", time.Date(2024, 5, 6, 12, 8, 9, 0, time.UTC), false},
		{"2024-05-06T07:08:09", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), false},
		{"2024-05-06 07:08:09", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), false},
		{"2024-05-06", time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC), false},
		{"yesterday", time.Time{}, true},
		{"2024-13-45T00:00:00Z", time.Time{}, true},
		{"1714979289", time.Time{}, true},
	} {
		var bad atomic.Int64
		got := parseTime(tc.in, &bad)
		if !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, want %v (UTC)", tc.in, got, tc.want)
		}
		if (bad.Load() == 1) != tc.bad {
			t.Errorf("parseTime(%q) counted %d bad timestamps, want bad=%v", tc.in, bad.Load(), tc.bad)
		}
		if gotB := parseTimeBytes([]byte(tc.in), nil); !gotB.Equal(tc.want) {
			t.Errorf("parseTimeBytes(%q) = %v, want %v", tc.in, gotB, tc.want)
		}
	}
}

func TestModelDecodersAreNilSafe(t *testing.T) {
	if f := FindingFromModel(nil); f.ID != "" {
		t.Error("nil finding model")
	}
	if f := FindingFromModel(&models.DomainBaseAPIVulnerabilityV2{HostInfo: &models.DomainAPIVulnerabilityHostFacetV2{Groups: []*models.DomainAPIHostGroup{nil}},
		Apps: []*models.DomainAPIVulnerabilityExtendedAppV2{nil}, Remediation: &models.DomainAPIVulnerabilityRemediationFacetV2{Entities: []*models.DomainAPIRemediationV2{nil}},
		Cve: &models.DomainAPIVulnerabilityCVEDetailsFacetV2{CisaInfo: &models.DomainAPIVulnerabilityCVECISAInfo{}}}); f.CVEInfo.IsCISAKEV {
		t.Error("nil is_cisa_kev read as true")
	}
	if h := HostFromModel(nil); h.AID != "" {
		t.Error("nil host model")
	}
	if a := AlertFromModel(&models.DetectsAlert{}); a.ID != "" || !a.Created.IsZero() {
		t.Error("empty alert model")
	}
	if v := IntelVulnFromModel(&models.DomainVulnerability{RelatedActors: []*models.DomainVulnerabilityActor{nil},
		RelatedReports: []*models.DomainVulnerabilityReport{nil, {SerialID: "CSA-1", CreatedDate: 1700000000}}}); len(v.Reports) != 1 ||
		!v.Reports[0].Created.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("intel reports = %+v", v.Reports)
	}
	if r := RemediationFromModel(nil); r.ID != "" {
		t.Error("nil remediation model")
	}
}

// FuzzDecodeFindingsPage: the lean decoder never panics, accepts only valid
// JSON, and agrees with encoding/json whenever both decode. (encoding/json
// matches keys case-insensitively, Falcon's keys are lower case, so the
// comparison runs on the input with ASCII letters lowered.)
func FuzzDecodeFindingsPage(f *testing.F) {
	f.Add(genPage(f, genModels(11, 3, true), "c", 3))
	f.Add([]byte(`{"resources":[{"id":"\ud83d\ude00","cve":{"base_score":1e2}}]}`))
	f.Add([]byte(`{"meta":null,"resources":null,"errors":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var bad atomic.Int64
		if _, _, err := newFindingsDecoder(&bad, nil).decode(data, nil); err != nil {
			if !errors.Is(err, errSyntax) {
				t.Fatalf("error without errSyntax: %v", err)
			}
		} else if !json.Valid(data) {
			t.Fatalf("lean decoder accepted invalid JSON %q", data)
		}
		lower := bytes.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, data)
		if !bytes.Equal(bytes.ToValidUTF8(data, nil), data) {
			lower = data // bytes.Map would rewrite invalid UTF-8
		}
		fast, meta, err := newFindingsDecoder(&bad, nil).decode(lower, nil)
		if err != nil {
			return
		}
		std, stdMeta, err := decodeFindingsPageStd(lower, &bad)
		if err != nil {
			return // encoding/json rejects some shapes the lean decoder skips
		}
		if len(fast) == 0 && len(std) == 0 {
			fast, std = nil, nil
		}
		if stdMeta.After != meta.After || stdMeta.Total != meta.Total || asJSON(t, fast) != asJSON(t, std) {
			t.Fatalf("decoders disagree on %q:\nlean %s %+v\nstd  %s %+v", lower, asJSON(t, fast), meta, asJSON(t, std), stdMeta)
		}
	})
}
