// Package ssvc answers CISA's two SSVC decision tables — the Coordinator
// decision (Track, Track*, Attend, Act) and the BOD 26-04 remediation
// timeline — from the CSV files CERT/CC publishes, embedded and parsed at
// first use (see data/README.md for their source and license).
//
// The tables are not hand-copied: the CSV is the single source of truth and
// is validated on load (known headers and values, every combination of
// decision-point values present exactly once).
package ssvc

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

//go:embed data/cisa_coordinator_2_0_3.csv
var coordinatorCSV []byte

//go:embed data/cisa_bod_26_04_1_0_0.csv
var bodCSV []byte

// Decision-point values, as the CSV files spell them.
const (
	ExploitationNone   = "none"
	ExploitationPoC    = "public poc"
	ExploitationActive = "active"

	Yes = "yes"
	No  = "no"

	TechnicalImpactPartial = "partial"
	TechnicalImpactTotal   = "total"

	MissionLow    = "low"
	MissionMedium = "medium"
	MissionHigh   = "high"
)

// Coordinator decisions, least to most urgent.
const (
	Track     = "track"
	TrackStar = "track*"
	Attend    = "attend"
	Act       = "act"
)

// BOD 26-04 remediation timelines, most to least urgent.
const (
	Timeline3DaysForensic = "3 days & forensic investigation"
	Timeline3Days         = "3 days"
	Timeline14Days        = "14 days"
	Timeline60Days        = "60 days"
	TimelineUpgrade       = "fix on system upgrade"
)

// Decision-point value sets, in the order their index is computed.
var (
	exploitationValues = []string{ExploitationNone, ExploitationPoC, ExploitationActive}
	yesNoValues        = []string{No, Yes}
	techImpactValues   = []string{TechnicalImpactPartial, TechnicalImpactTotal}
	missionValues      = []string{MissionLow, MissionMedium, MissionHigh}
	decisionValues     = []string{Track, TrackStar, Attend, Act}
	timelineValues     = []string{Timeline3DaysForensic, Timeline3Days, Timeline14Days, Timeline60Days, TimelineUpgrade}
)

// CoordinatorRow is one row of the Coordinator table.
type CoordinatorRow struct {
	Row             int    `json:"row"`
	Exploitation    string `json:"exploitation"`
	Automatable     string `json:"automatable"`
	TechnicalImpact string `json:"technical_impact"`
	Mission         string `json:"mission_impact"`
	Decision        string `json:"decision"`
}

// BODRow is one row of the BOD 26-04 table.
type BODRow struct {
	Row             int    `json:"row"`
	InKEV           bool   `json:"in_kev"`
	PubliclyExposed bool   `json:"publicly_exposed"`
	Automatable     string `json:"automatable"`
	TechnicalImpact string `json:"technical_impact"`
	Timeline        string `json:"timeline"`
}

type tables struct {
	coord    [3 * 2 * 2 * 3]CoordinatorRow // index: coordIndex
	coordRaw []CoordinatorRow              // file order
	bod      [2 * 2 * 2 * 2]BODRow         // index: bodIndex
	bodRaw   []BODRow
}

// load parses both embedded tables once; the result is immutable.
var load = sync.OnceValues(func() (*tables, error) {
	t := &tables{}
	if err := t.parseCoordinator(coordinatorCSV); err != nil {
		return nil, fmt.Errorf("ssvc: cisa_coordinator_2_0_3.csv: %w", err)
	}
	if err := t.parseBOD(bodCSV); err != nil {
		return nil, fmt.Errorf("ssvc: cisa_bod_26_04_1_0_0.csv: %w", err)
	}
	return t, nil
})

func coordIndex(e, a, ti, m int) int { return ((e*2+a)*2+ti)*3 + m }
func bodIndex(k, p, a, ti int) int   { return ((k*2+p)*2+a)*2 + ti }

// readTable reads a CSV table whose header columns start with the given
// decision-point names (the CSV appends versions, e.g. "Automatable v2.0.0").
func readTable(data []byte, wantCols []string) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = len(wantCols)
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("empty")
	}
	for i, want := range wantCols {
		if got := recs[0][i]; !strings.HasPrefix(got, want) {
			return nil, fmt.Errorf("header column %d is %q, want %q…", i+1, got, want)
		}
	}
	return recs[1:], nil
}

func valueIndex(values []string, v string) int {
	for i, x := range values {
		if x == v {
			return i
		}
	}
	return -1
}

// cell checks one CSV value against its allowed set; line is 1-based.
func cell(line int, col string, values []string, v string) (int, error) {
	i := valueIndex(values, v)
	if i < 0 {
		return -1, fmt.Errorf("line %d: %s %q is not one of %s", line, col, v, strings.Join(values, ", "))
	}
	return i, nil
}

// column is one decision-point or outcome column of a decision table.
type column struct {
	header string   // prefix of the CSV header (the file appends a version)
	name   string   // as errors name it
	values []string // allowed values, in index order
}

var (
	coordinatorPoints = []column{
		{"Exploitation", "exploitation", exploitationValues},
		{"Automatable", "automatable", yesNoValues},
		{"Technical Impact", "technical impact", techImpactValues},
		{"Mission and Well-Being Impact", "mission and well-being impact", missionValues},
	}
	coordinatorOutcome = column{"CISA Levels", "decision", decisionValues}

	bodPoints = []column{
		{"In KEV", "in KEV", yesNoValues},
		{"Publicly Exposed", "publicly exposed", yesNoValues},
		{"Automatable", "automatable", yesNoValues},
		{"Technical Impact", "technical impact", techImpactValues},
	}
	bodOutcome = column{"CISA BOD 26-04 Remediation Timelines", "timeline", timelineValues}
)

// parseTable reads a decision table laid out as row number, decision
// points, outcome; checks every value against its column and that each
// combination of decision-point values appears exactly once; and hands each
// row to emit with the combination's index. The index is mixed-radix over
// the points' value sets in column order, which is what coordIndex and
// bodIndex compute for lookups.
func parseTable(data []byte, points []column, outcome column, emit func(idx, row int, ix []int, rec []string)) error {
	headers := []string{"row"}
	size := 1
	for _, p := range points {
		headers = append(headers, p.header)
		size *= len(p.values)
	}
	headers = append(headers, outcome.header)
	recs, err := readTable(data, headers)
	if err != nil {
		return err
	}
	seen := make([]bool, size)
	ix := make([]int, len(points))
	for i, rec := range recs {
		line := i + 2
		row, err := strconv.Atoi(rec[0])
		if err != nil {
			return fmt.Errorf("line %d: row %q is not a number", line, rec[0])
		}
		idx := 0
		for j, p := range points {
			if ix[j], err = cell(line, p.name, p.values, rec[j+1]); err != nil {
				return err
			}
			idx = idx*len(p.values) + ix[j]
		}
		if _, err := cell(line, outcome.name, outcome.values, rec[len(points)+1]); err != nil {
			return err
		}
		if seen[idx] {
			return fmt.Errorf("line %d: combination %s appears twice", line, strings.Join(rec[1:len(points)+1], "/"))
		}
		seen[idx] = true
		emit(idx, row, ix, rec)
	}
	for idx, ok := range seen {
		if !ok {
			return fmt.Errorf("incomplete: %d of %d combinations present (first missing: index %d)", len(recs), len(seen), idx)
		}
	}
	return nil
}

func (t *tables) parseCoordinator(data []byte) error {
	return parseTable(data, coordinatorPoints, coordinatorOutcome, func(idx, row int, _ []int, rec []string) {
		cr := CoordinatorRow{Row: row, Exploitation: rec[1], Automatable: rec[2], TechnicalImpact: rec[3], Mission: rec[4], Decision: rec[5]}
		t.coord[idx] = cr
		t.coordRaw = append(t.coordRaw, cr)
	})
}

func (t *tables) parseBOD(data []byte) error {
	return parseTable(data, bodPoints, bodOutcome, func(idx, row int, ix []int, rec []string) {
		br := BODRow{Row: row, InKEV: ix[0] == 1, PubliclyExposed: ix[1] == 1, Automatable: rec[3], TechnicalImpact: rec[4], Timeline: rec[5]}
		t.bod[idx] = br
		t.bodRaw = append(t.bodRaw, br)
	})
}

// match finds v (case-insensitive, surrounding space ignored) among values
// without allocating; -1 when absent.
func match(values []string, v string) int {
	v = strings.TrimSpace(v)
	for i, x := range values {
		if strings.EqualFold(x, v) {
			return i
		}
	}
	return -1
}

func exploitationIndex(v string) int {
	if i := match(exploitationValues, v); i >= 0 {
		return i
	}
	if strings.EqualFold(strings.TrimSpace(v), "poc") {
		return 1
	}
	return -1
}

func badValue(point, v, allowed string) error {
	return fmt.Errorf("ssvc: %s %q is not one of %s", point, clip(v), allowed)
}

func clip(s string) string {
	r := []rune(s)
	if len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// Coordinator returns CISA's SSVC Coordinator v2.0.3 decision (track,
// track*, attend or act) for the four decision points, and the row of
// cisa_coordinator_2_0_3.csv it comes from. Values are case-insensitive:
// exploitation none|public poc|active ("poc" also accepted), automatable
// yes|no, technical impact partial|total, mission low|medium|high.
func Coordinator(exploitation, automatable, technicalImpact, mission string) (decision string, row int, err error) {
	t, err := load()
	if err != nil {
		return "", 0, err
	}
	e := exploitationIndex(exploitation)
	if e < 0 {
		return "", 0, badValue("exploitation", exploitation, "none, public poc (or poc), active")
	}
	a := match(yesNoValues, automatable)
	if a < 0 {
		return "", 0, badValue("automatable", automatable, "yes, no")
	}
	ti := match(techImpactValues, technicalImpact)
	if ti < 0 {
		return "", 0, badValue("technical impact", technicalImpact, "partial, total")
	}
	m := match(missionValues, mission)
	if m < 0 {
		return "", 0, badValue("mission and well-being impact", mission, "low, medium, high")
	}
	r := &t.coord[coordIndex(e, a, ti, m)]
	return r.Decision, r.Row, nil
}

// BOD2604 returns the CISA BOD 26-04 remediation timeline for a
// vulnerability ("3 days & forensic investigation", "3 days", "14 days",
// "60 days" or "fix on system upgrade") and the row of
// cisa_bod_26_04_1_0_0.csv it comes from. automatable is yes|no and
// technicalImpact partial|total (case-insensitive).
func BOD2604(inKEV, publiclyExposed bool, automatable, technicalImpact string) (timeline string, row int, err error) {
	t, err := load()
	if err != nil {
		return "", 0, err
	}
	a := match(yesNoValues, automatable)
	if a < 0 {
		return "", 0, badValue("automatable", automatable, "yes, no")
	}
	ti := match(techImpactValues, technicalImpact)
	if ti < 0 {
		return "", 0, badValue("technical impact", technicalImpact, "partial, total")
	}
	r := &t.bod[bodIndex(b2i(inKEV), b2i(publiclyExposed), a, ti)]
	return r.Timeline, r.Row, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CoordinatorTable returns the Coordinator table's rows in file order.
func CoordinatorTable() ([]CoordinatorRow, error) {
	t, err := load()
	if err != nil {
		return nil, err
	}
	return append([]CoordinatorRow(nil), t.coordRaw...), nil
}

// BODTable returns the BOD 26-04 table's rows in file order.
func BODTable() ([]BODRow, error) {
	t, err := load()
	if err != nil {
		return nil, err
	}
	return append([]BODRow(nil), t.bodRaw...), nil
}
