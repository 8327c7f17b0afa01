package evals

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/ssvc"
)

func TestBODTableIsTheRepositoryCopy(t *testing.T) {
	repo, err := os.ReadFile("../internal/ssvc/data/cisa_bod_26_04_1_0_0.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(repo, bodCSV) {
		t.Fatal("evals/data/cisa_bod_26_04_1_0_0.csv differs from internal/ssvc/data's copy; copy it again")
	}
}

// Every row of the CSV, read independently here line by line, must come
// back from BOD2604 with its timeline; and the harness must agree with the
// ssvc package's own parse (two readers of one file).
func TestBOD2604MatchesEveryCSVRow(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(string(bodCSV)), "\n")
	if len(lines) != 17 {
		t.Fatalf("%d lines, want a header and 16 rows", len(lines))
	}
	ref, err := ssvc.BODTable()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range lines[1:] {
		f := strings.Split(strings.TrimSpace(line), ",")
		in := BODInputs{InKEV: f[1] == "yes", PubliclyExposed: f[2] == "yes", Automatable: f[3] == "yes", TotalImpact: f[4] == "total"}
		d, err := BOD2604(in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Timeline != f[5] || f[0] != strconv.Itoa(d.Row) {
			t.Errorf("row %s %+v: got %q (row %d), want %q", f[0], in, d.Timeline, d.Row, f[5])
		}
		if d.Tier != bodTimelineTier[f[5]] || d.Tier.Rank() == 0 {
			t.Errorf("row %s: tier %q for %q", f[0], d.Tier, f[5])
		}
		for _, r := range ref {
			if r.InKEV == in.InKEV && r.PubliclyExposed == in.PubliclyExposed && (r.Automatable == "yes") == in.Automatable && (r.TechnicalImpact == "total") == in.TotalImpact {
				if r.Timeline != d.Timeline || r.Row != d.Row {
					t.Errorf("row %s: harness %q/%d, ssvc package %q/%d", f[0], d.Timeline, d.Row, r.Timeline, r.Row)
				}
			}
		}
	}
}

func TestBODTimelineTiers(t *testing.T) {
	tests := []struct {
		in   BODInputs
		want string
		tier Tier
	}{
		{BODInputs{InKEV: true, PubliclyExposed: true, TotalImpact: true}, "3 days & forensic investigation", P1},
		{BODInputs{PubliclyExposed: true, Automatable: true, TotalImpact: true}, "3 days", P1},
		{BODInputs{InKEV: true}, "14 days", P2},
		{BODInputs{PubliclyExposed: true}, "60 days", P3},
		{BODInputs{}, "fix on system upgrade", P4},
	}
	for _, tt := range tests {
		d, err := BOD2604(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Timeline != tt.want || d.Tier != tt.tier {
			t.Errorf("%+v: %q %s, want %q %s", tt.in, d.Timeline, d.Tier, tt.want, tt.tier)
		}
	}
}

func TestParseBODTableRejectsBadTables(t *testing.T) {
	good := string(bodCSV)
	lines := strings.Split(strings.TrimSpace(good), "\n")
	tests := []struct {
		name, csv, want string
	}{
		{"renamed header", strings.Replace(good, "In KEV v1.0.0 (cisa)", "KEV", 1), "header column 2"},
		{"missing row", strings.Join(lines[:16], "\n"), "15 combinations"},
		{"duplicate row", strings.Join(append(lines[:16], strings.Replace(lines[1], "0,", "15,", 1)), "\n"), "same decision points as row 0"},
		{"unknown timeline", strings.Replace(good, "14 days", "two weeks", 1), `unknown timeline "two weeks"`},
		{"bad yes/no", strings.Replace(good, "0,no,no,no,partial", "0,maybe,no,no,partial", 1), `In KEV: "maybe" is not yes or no`},
		{"bad impact", strings.Replace(good, "0,no,no,no,partial", "0,no,no,no,some", 1), `"some" is not partial or total`},
		{"wrong column count", strings.Replace(good, "0,no,no,no,partial,", "0,no,no,partial,", 1), "wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseBODTable([]byte(tt.csv))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestBODInputsFromFixtureData(t *testing.T) {
	exposed := falconsim.Host{InternetExposure: "Yes"}
	pending := falconsim.Host{InternetExposure: "Pending"}
	tests := []struct {
		name string
		cve  falconsim.CVE
		host falconsim.Host
		want BODInputs
	}{
		{"SSVC values win over the vector", falconsim.CVE{IsCISAKEV: true, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			SSVC: &falconsim.SSVC{Automatable: "no", TechnicalImpact: "partial"}}, exposed,
			BODInputs{InKEV: true, PubliclyExposed: true, Source: "ssvc"}},
		{"CVSS v3 fallback: network, no privileges, no interaction, C:H/I:H", falconsim.CVE{Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"}, pending,
			BODInputs{Automatable: true, TotalImpact: true, Source: "cvss"}},
		{"user interaction is not automatable", falconsim.CVE{Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"}, exposed,
			BODInputs{PubliclyExposed: true, TotalImpact: true, Source: "cvss"}},
		{"confidentiality alone is partial", falconsim.CVE{Vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H"}, exposed,
			BODInputs{PubliclyExposed: true, Automatable: true, Source: "cvss"}},
		{"CVSS v4 uses AT and VC/VI", falconsim.CVE{Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}, pending,
			BODInputs{Automatable: true, TotalImpact: true, Source: "cvss"}},
		{"CVSS v4 attack requirements present", falconsim.CVE{Vector: "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:H/SC:N/SI:N/SA:N"}, pending,
			BODInputs{Source: "cvss"}},
		{"no vector", falconsim.CVE{IsCISAKEV: true}, pending, BODInputs{InKEV: true, Source: "cvss"}},
		{"garbage vector", falconsim.CVE{Vector: "AV:N/AC:L"}, pending, BODInputs{Source: "cvss"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bodInputsFor(tt.cve, tt.host); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
