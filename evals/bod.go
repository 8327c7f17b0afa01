package evals

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/vulnpilot/vulnpilot/internal/falconsim"
)

// bodCSV is the BOD 26-04 table (see data/README.md). The harness reads it
// itself so that its BOD labels never come from the risk engine.
//
//go:embed data/cisa_bod_26_04_1_0_0.csv
var bodCSV []byte

// BODInputs are the four BOD 26-04 decision points for one CVE × host.
type BODInputs struct {
	InKEV           bool   `json:"in_kev"`
	PubliclyExposed bool   `json:"publicly_exposed"`
	Automatable     bool   `json:"automatable"`
	TotalImpact     bool   `json:"technical_impact_total"`
	Source          string `json:"source"` // where automatable/technical impact came from: ssvc or cvss
}

// BODDecision is the table's answer for one set of inputs.
type BODDecision struct {
	Timeline string `json:"timeline"`
	Row      int    `json:"row"`
	Tier     Tier   `json:"tier"`
}

// bodRow is one parsed row of the CSV.
type bodRow struct {
	Row      int
	In       BODInputs
	Timeline string
}

// The timelines of the table and the tier whose SLA matches each, with the
// default policy's SLAs: P1 3 days, P2 14 days, P3 60 days, P4 180 days
// (the "fix on system upgrade" bucket).
var bodTimelineTier = map[string]Tier{
	"3 days & forensic investigation": P1,
	"3 days":                          P1,
	"14 days":                         P2,
	"60 days":                         P3,
	"fix on system upgrade":           P4,
}

var bodHeader = []string{
	"row",
	"In KEV v1.0.0 (cisa)",
	"Publicly Exposed v1.0.0 (cisa)",
	"Automatable v2.0.0",
	"Technical Impact v1.0.0",
	"CISA BOD 26-04 Remediation Timelines v1.0.0 (cisa)",
}

func bodKey(in BODInputs) int {
	k := 0
	for _, b := range []bool{in.InKEV, in.PubliclyExposed, in.Automatable, in.TotalImpact} {
		k <<= 1
		if b {
			k |= 1
		}
	}
	return k
}

// parseBODTable reads the CSV: the known header, yes/no and partial/total
// cells, a known timeline, and every one of the 16 combinations exactly once.
func parseBODTable(data []byte) ([]bodRow, map[int]bodRow, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = len(bodHeader)
	recs, err := r.ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("empty table")
	}
	for i, h := range bodHeader {
		if strings.TrimSpace(recs[0][i]) != h {
			return nil, nil, fmt.Errorf("header column %d is %q, want %q", i+1, recs[0][i], h)
		}
	}
	yesNo := func(line int, col, v string) (bool, error) {
		switch v {
		case "yes":
			return true, nil
		case "no":
			return false, nil
		}
		return false, fmt.Errorf("line %d: %s: %q is not yes or no", line, col, v)
	}
	var rows []bodRow
	byKey := map[int]bodRow{}
	for i, rec := range recs[1:] {
		line := i + 2
		var row bodRow
		if row.Row, err = strconv.Atoi(rec[0]); err != nil {
			return nil, nil, fmt.Errorf("line %d: row: %q is not a number", line, rec[0])
		}
		if row.In.InKEV, err = yesNo(line, "In KEV", rec[1]); err != nil {
			return nil, nil, err
		}
		if row.In.PubliclyExposed, err = yesNo(line, "Publicly Exposed", rec[2]); err != nil {
			return nil, nil, err
		}
		if row.In.Automatable, err = yesNo(line, "Automatable", rec[3]); err != nil {
			return nil, nil, err
		}
		switch rec[4] {
		case "total":
			row.In.TotalImpact = true
		case "partial":
		default:
			return nil, nil, fmt.Errorf("line %d: Technical Impact: %q is not partial or total", line, rec[4])
		}
		row.Timeline = rec[5]
		if _, ok := bodTimelineTier[row.Timeline]; !ok {
			return nil, nil, fmt.Errorf("line %d: unknown timeline %q", line, row.Timeline)
		}
		k := bodKey(row.In)
		if prev, dup := byKey[k]; dup {
			return nil, nil, fmt.Errorf("line %d: same decision points as row %d", line, prev.Row)
		}
		byKey[k] = row
		rows = append(rows, row)
	}
	if len(byKey) != 16 {
		return nil, nil, fmt.Errorf("%d combinations of decision points, want all 16", len(byKey))
	}
	return rows, byKey, nil
}

var bodTable = sync.OnceValues(func() (map[int]bodRow, error) {
	_, byKey, err := parseBODTable(bodCSV)
	if err != nil {
		return nil, fmt.Errorf("evals: cisa_bod_26_04_1_0_0.csv: %w", err)
	}
	return byKey, nil
})

// BOD2604 answers the BOD 26-04 table for in.
func BOD2604(in BODInputs) (BODDecision, error) {
	t, err := bodTable()
	if err != nil {
		return BODDecision{}, err
	}
	row := t[bodKey(in)]
	return BODDecision{Timeline: row.Timeline, Row: row.Row, Tier: bodTimelineTier[row.Timeline]}, nil
}

// bodInputsFor derives the decision points of one CVE × host from the
// resolved fixture data, with these rules:
//
//   - in KEV: the CVE facet's is_cisa_kev (Spotlight's own field; for a CVE
//     the fixture does not spell out, the simulator sets it from the bundled
//     KEV catalog as of the tenant's now);
//   - publicly exposed: the host's internet_exposure is "Yes" ("Pending" and
//     "No" are not);
//   - automatable and technical impact: the CVE's CISA-ADP SSVC values when
//     the facet carries them (cves[].ssvc, filled from the real Vulnrichment
//     record); otherwise from the CVSS vector — automatable when AV:N, AC:L,
//     PR:N and UI:N (v4 also AT:N), total impact when confidentiality and
//     integrity are both High (C:H/I:H, v4 VC:H/VI:H). No vector: no and
//     partial.
func bodInputsFor(c falconsim.CVE, h falconsim.Host) BODInputs {
	in := BODInputs{InKEV: c.IsCISAKEV, PubliclyExposed: h.InternetExposure == "Yes"}
	if c.SSVC != nil {
		in.Automatable = c.SSVC.Automatable == "yes"
		in.TotalImpact = c.SSVC.TechnicalImpact == "total"
		in.Source = "ssvc"
		return in
	}
	in.Automatable, in.TotalImpact = fromCVSS(c.Vector)
	in.Source = "cvss"
	return in
}

var cvssMetricRE = regexp.MustCompile(`^[A-Z]{1,3}:[A-Z]$`)

// fromCVSS applies the documented CVSS fallback rules to a v3.x or v4.0
// vector; anything unparsable gives no/partial.
func fromCVSS(vector string) (automatable, total bool) {
	parts := strings.Split(vector, "/")
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "CVSS:") {
		return false, false
	}
	m := map[string]string{}
	for _, p := range parts[1:] {
		if !cvssMetricRE.MatchString(p) {
			return false, false
		}
		k, v, _ := strings.Cut(p, ":")
		m[k] = v
	}
	automatable = m["AV"] == "N" && m["AC"] == "L" && m["PR"] == "N" && m["UI"] == "N"
	if strings.HasPrefix(parts[0], "CVSS:4") {
		automatable = automatable && m["AT"] == "N"
		// v4 names the vulnerable system's impacts VC/VI.
		return automatable, m["VC"] == "H" && m["VI"] == "H"
	}
	return automatable, m["C"] == "H" && m["I"] == "H"
}
