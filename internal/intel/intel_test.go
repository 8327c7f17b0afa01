package intel

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBundledKEV(t *testing.T) {
	k, err := BundledKEV()
	if err != nil {
		t.Fatal(err)
	}
	if k.CatalogVersion != "2025.08.25" || k.Count != 1404 || k.Len() != 1404 || k.Source != BundledSource {
		t.Fatalf("bundled catalog: version %q count %d len %d source %q", k.CatalogVersion, k.Count, k.Len(), k.Source)
	}
	if want := time.Date(2025, 8, 25, 17, 4, 19, 979600000, time.UTC); !k.DateReleased.Equal(want) {
		t.Errorf("DateReleased = %v, want %v", k.DateReleased, want)
	}
	e, ok := k.Lookup("cve-2025-48384") // case-insensitive
	if !ok {
		t.Fatal("CVE-2025-48384 not found")
	}
	if e.Product != "Git" || e.DateAdded != "2025-08-25" || e.Ransomware() {
		t.Errorf("entry = %+v", e)
	}
	if !e.Added().Equal(time.Date(2025, 8, 25, 0, 0, 0, 0, time.UTC)) || !e.Due().Equal(time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Added %v Due %v", e.Added(), e.Due())
	}
	if _, ok := k.Lookup("CVE-1999-0001"); ok {
		t.Error("CVE-1999-0001 should not be in KEV")
	}
	ransom := 0
	for _, e := range k.Entries() {
		if e.Ransomware() {
			ransom++
		}
	}
	if ransom != 293 {
		t.Errorf("ransomware entries = %d, want 293 (per the snapshot README)", ransom)
	}
}

func TestLoadKEVFileAndURL(t *testing.T) {
	ctx := context.Background()
	raw, err := os.ReadFile("testdata/kev_small.json")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/kev.json":
			w.Write(raw)
		case "/kev.json.gz":
			w.Write(gz.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	l := Loader{Client: srv.Client()}

	for _, tc := range []struct{ name, src, wantSource string }{
		{"file", "testdata/kev_small.json", "testdata/kev_small.json"},
		{"url", srv.URL + "/kev.json", srv.URL + "/kev.json"},
		{"url gz, credentials stripped", srv.URL + "/kev.json.gz?token=s3cret", srv.URL + "/kev.json.gz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := l.KEV(ctx, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if k.CatalogVersion != "2025.01.02" || k.Len() != 2 || k.Source != tc.wantSource {
				t.Fatalf("got version %q len %d source %q", k.CatalogVersion, k.Len(), k.Source)
			}
			e, ok := k.Lookup("CVE-2024-0001")
			if !ok || !e.Ransomware() || e.CWEs[0] != "CWE-78" {
				t.Fatalf("lookup = %+v %v", e, ok)
			}
		})
	}

	t.Run("http error names source without query", func(t *testing.T) {
		_, err := l.KEV(ctx, srv.URL+"/missing?token=s3cret")
		if err == nil || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), srv.URL+"/missing") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("error leaks the query: %v", err)
		}
	})
	t.Run("size limit", func(t *testing.T) {
		_, err := Loader{Client: srv.Client(), MaxBytes: 100}.KEV(ctx, srv.URL+"/kev.json.gz")
		if err == nil || !strings.Contains(err.Error(), "size limit") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := l.KEV(cctx, srv.URL+"/kev.json")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadKEV(ctx, "testdata/nope.json")
		if err == nil || !strings.Contains(err.Error(), "testdata/nope.json") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unsupported scheme", func(t *testing.T) {
		_, err := LoadKEV(ctx, "ftp://example.invalid/kev.json")
		if err == nil || !strings.Contains(err.Error(), "scheme") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty source", func(t *testing.T) {
		if _, err := LoadKEV(ctx, ""); err == nil {
			t.Fatal("want error")
		}
	})
}

func TestKEVMalformed(t *testing.T) {
	entry := func(fields string) string {
		return `{"cveID":"CVE-2024-0001","dateAdded":"2024-01-02","dueDate":"2024-01-23"` + fields + `}`
	}
	doc := func(head, vulns string) string {
		return `{"catalogVersion":"1"` + head + `,"vulnerabilities":[` + vulns + `]}`
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"not json", `{"catalogVersion":`, "not a KEV catalog JSON"},
		{"no version", `{"vulnerabilities":[]}`, "catalogVersion: missing"},
		{"no vulnerabilities", `{"catalogVersion":"1"}`, "vulnerabilities: missing"},
		{"missing cve", doc("", `{"dateAdded":"2024-01-02"}`), "vulnerabilities[0].cveID: missing"},
		{"bad cve", doc("", entry("")+`,{"cveID":"CVE-24-1","dateAdded":"2024-01-02"}`), `vulnerabilities[1].cveID: "CVE-24-1" is not a CVE id`},
		{"duplicate", doc("", entry("")+","+entry("")), "vulnerabilities[1].cveID: CVE-2024-0001 is listed twice (also at index 0)"},
		{"bad dateAdded", doc("", `{"cveID":"CVE-2024-0001","dateAdded":"yesterday"}`), `vulnerabilities[0].dateAdded: "yesterday"`},
		{"bad dueDate", doc("", `{"cveID":"CVE-2024-0001","dateAdded":"2024-01-02","dueDate":"soon"}`), `vulnerabilities[0].dueDate: "soon"`},
		{"wrong type", doc("", `{"cveID":5}`), "field cveID: want a string"},
		{"count mismatch", doc(`,"count":3`, entry("")), "count: 3 does not match the 1 entries"},
		{"bad dateReleased", doc(`,"dateReleased":"today"`, entry("")), `dateReleased: "today"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseKEV([]byte(tc.doc), "fixture")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "kev fixture: ") {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadEPSS(t *testing.T) {
	ctx := context.Background()
	plain, _ := os.ReadFile("testdata/epss_small.csv")
	gz, _ := os.ReadFile("testdata/epss_small.csv.gz")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".gz") {
			w.Write(gz)
			return
		}
		w.Write(plain)
	}))
	defer srv.Close()
	l := Loader{Client: srv.Client()}
	for _, src := range []string{"testdata/epss_small.csv", "testdata/epss_small.csv.gz", srv.URL + "/epss.csv", srv.URL + "/epss.csv.gz"} {
		t.Run(src, func(t *testing.T) {
			e, err := l.EPSS(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if e.ModelVersion != "v2025.03.14" || !e.ScoreDate.Equal(time.Date(2025, 6, 1, 12, 55, 0, 0, time.UTC)) || e.Len() != 3 {
				t.Fatalf("meta: %q %v len %d", e.ModelVersion, e.ScoreDate, e.Len())
			}
			r, ok := e.Lookup("cve-2024-0001")
			if !ok || r.EPSS != 0.94321 || r.Percentile != 0.99912 {
				t.Fatalf("lookup = %+v %v", r, ok)
			}
			if r, ok := e.Lookup("CVE-2099-0001"); ok || r != (EPSSRow{}) {
				t.Fatalf("unknown CVE: %+v %v, want ok=false", r, ok)
			}
		})
	}
	var nilFeed *EPSS
	if _, ok := nilFeed.Lookup("CVE-2024-0001"); ok {
		t.Error("nil feed must say unknown")
	}
}

func TestEPSSMalformed(t *testing.T) {
	const meta = "#model_version:v1,score_date:2025-06-01T00:00:00Z\n"
	for _, tc := range []struct{ name, in, want string }{
		{"no header", meta, "no header line"},
		{"wrong header", meta + "cve,score\nCVE-2024-0001,0.5\n", `line 2: header "cve,score"`},
		{"no rows", meta + "cve,epss,percentile\n", "no score rows"},
		{"epss above 1", meta + "cve,epss,percentile\nCVE-2024-0001,0.5,0.5\nCVE-2024-0002,1.5,0.9\n", "line 4: epss: 1.5 is out of range [0,1]"},
		{"negative percentile", meta + "cve,epss,percentile\nCVE-2024-0001,0.5,-0.1\n", "line 3: percentile: -0.1 is out of range [0,1]"},
		{"NaN", meta + "cve,epss,percentile\nCVE-2024-0001,NaN,0.1\n", "line 3: epss: NaN is out of range"},
		{"not a number", meta + "cve,epss,percentile\nCVE-2024-0001,high,0.1\n", `line 3: epss: "high" is not a number`},
		{"bad cve", meta + "cve,epss,percentile\nGHSA-1,0.1,0.1\n", `line 3: cve: "GHSA-1"`},
		{"field count", meta + "cve,epss,percentile\nCVE-2024-0001,0.1\n", "line 3: want 3 fields"},
		{"extra field", meta + "cve,epss,percentile\nCVE-2024-0001,0.1,0.2,0.3\n", "line 3: want 3 fields"},
		{"duplicate", meta + "cve,epss,percentile\nCVE-2024-0001,0.1,0.2\nCVE-2024-0001,0.1,0.2\n", "line 4: cve: CVE-2024-0001 is listed twice"},
		{"bad score_date", "#model_version:v1,score_date:June\ncve,epss,percentile\nCVE-2024-0001,0.1,0.2\n", `line 1: score_date: "June"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEPSS([]byte(tc.in), "fixture")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestEPSSLenientForms(t *testing.T) {
	// CRLF line ends, a BOM, a date-only score_date, and no trailing newline.
	in := "\xef\xbb\xbf#model_version:v2,score_date:2025-06-02\r\ncve,epss,percentile\r\nCVE-2024-0001,0.25,0.5"
	e, err := ParseEPSS([]byte(in), "x")
	if err != nil {
		t.Fatal(err)
	}
	if e.ModelVersion != "v2" || e.ScoreDay() != "2025-06-02" {
		t.Fatalf("meta %q %q", e.ModelVersion, e.ScoreDay())
	}
	if r, ok := e.Lookup("CVE-2024-0001"); !ok || r.EPSS != 0.25 {
		t.Fatalf("row %+v %v", r, ok)
	}
	// A file without the metadata line still loads; provenance says so.
	e, err = ParseEPSS([]byte("cve,epss,percentile\nCVE-2024-0001,0.25,0.5\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if got := (&Feeds{EPSS: e}).DescribeLines()[1]; got != "EPSS (model version unknown)" {
		t.Errorf("describe = %q", got)
	}
}

func TestGzipBombRejected(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("cve,epss,percentile\n"))
	zw.Write(bytes.Repeat([]byte("x"), 4<<20))
	zw.Close()
	p := filepath.Join(t.TempDir(), "bomb.csv.gz")
	os.WriteFile(p, buf.Bytes(), 0o600)
	_, err := Loader{MaxBytes: 1 << 20}.EPSS(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "size limit") {
		t.Fatalf("err = %v", err)
	}
}

func TestFeedsDescribe(t *testing.T) {
	ctx := context.Background()
	f, err := LoadFeeds(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Describe(), "KEV catalog 2025.08.25 (bundled); EPSS: not configured"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	f, err = LoadFeeds(ctx, "testdata/kev_small.json", "testdata/epss_small.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Describe(), "KEV catalog 2025.01.02 (from testdata/kev_small.json); EPSS v2025.03.14 scored 2025-06-01"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	if _, err := LoadFeeds(ctx, "", "testdata/missing.csv"); err == nil || !strings.Contains(err.Error(), "epss testdata/missing.csv") {
		t.Errorf("err = %v", err)
	}
}

func BenchmarkEPSSLookup(b *testing.B) {
	e, err := ParseEPSS([]byte("cve,epss,percentile\nCVE-2024-0001,0.25,0.5\n"), "x")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Lookup("CVE-2024-0001")
	}
}

// BenchmarkParseEPSSFull parses a synthetic feed the size of FIRST's daily
// file (300,000 rows).
func BenchmarkParseEPSSFull(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("#model_version:v2025.03.14,score_date:2025-06-01T12:55:00Z\ncve,epss,percentile\n")
	for i := range 300000 {
		fmt.Fprintf(&buf, "CVE-%d-%d,0.%05d,0.%05d\n", 1999+i%27, 1000+i, i%100000, (i*7)%100000)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEPSS(data, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
