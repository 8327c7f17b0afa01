package ssvc

import (
	"encoding/csv"
	"os"
	"strconv"
	"strings"
	"testing"
)

// readCSV reads a data file with encoding/csv directly, independent of the
// package's parser, so a parser bug cannot hide behind itself.
func readCSV(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open("data/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[1:]
}

func TestCoordinatorEveryRow(t *testing.T) {
	recs := readCSV(t, "cisa_coordinator_2_0_3.csv")
	if len(recs) != 36 {
		t.Fatalf("file has %d rows, want 36", len(recs))
	}
	for _, rec := range recs {
		wantRow, _ := strconv.Atoi(rec[0])
		got, row, err := Coordinator(rec[1], rec[2], rec[3], rec[4])
		if err != nil {
			t.Fatalf("row %s: %v", rec[0], err)
		}
		if got != rec[5] || row != wantRow {
			t.Errorf("Coordinator(%q,%q,%q,%q) = %q row %d, want %q row %d", rec[1], rec[2], rec[3], rec[4], got, row, rec[5], wantRow)
		}
		// Upper case and the "poc" alias resolve to the same row.
		e := strings.ToUpper(rec[1])
		if rec[1] == "public poc" {
			e = "PoC"
		}
		got2, row2, err := Coordinator(e, strings.ToUpper(rec[2]), " "+rec[3]+" ", strings.ToUpper(rec[4][:1])+rec[4][1:])
		if err != nil || got2 != got || row2 != row {
			t.Errorf("aliased row %s: %q %d %v", rec[0], got2, row2, err)
		}
	}
}

func TestBODEveryRow(t *testing.T) {
	recs := readCSV(t, "cisa_bod_26_04_1_0_0.csv")
	if len(recs) != 16 {
		t.Fatalf("file has %d rows, want 16", len(recs))
	}
	for _, rec := range recs {
		wantRow, _ := strconv.Atoi(rec[0])
		got, row, err := BOD2604(rec[1] == "yes", rec[2] == "yes", rec[3], rec[4])
		if err != nil {
			t.Fatalf("row %s: %v", rec[0], err)
		}
		if got != rec[5] || row != wantRow {
			t.Errorf("BOD2604(%s,%s,%s,%s) = %q row %d, want %q row %d", rec[1], rec[2], rec[3], rec[4], got, row, rec[5], wantRow)
		}
	}
}

func TestSpotChecks(t *testing.T) {
	// Independent of the files: a few cells of CISA's published trees.
	if d, _, _ := Coordinator("active", "yes", "total", "high"); d != Act {
		t.Errorf("active/yes/total/high = %q, want act", d)
	}
	if d, _, _ := Coordinator("none", "no", "partial", "low"); d != Track {
		t.Errorf("none/no/partial/low = %q, want track", d)
	}
	if d, _, _ := BOD2604(true, true, "yes", "total"); d != Timeline3DaysForensic {
		t.Errorf("KEV+exposed+auto+total = %q", d)
	}
	if d, _, _ := BOD2604(false, false, "no", "partial"); d != TimelineUpgrade {
		t.Errorf("nothing = %q", d)
	}
}

func TestInvalidInputs(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"exploitation", func() error { _, _, err := Coordinator("maybe", "yes", "total", "high"); return err }, `exploitation "maybe" is not one of none, public poc (or poc), active`},
		{"automatable", func() error { _, _, err := Coordinator("none", "y", "total", "high"); return err }, `automatable "y" is not one of yes, no`},
		{"technical impact", func() error { _, _, err := Coordinator("none", "yes", "full", "high"); return err }, `technical impact "full" is not one of partial, total`},
		{"mission", func() error { _, _, err := Coordinator("none", "yes", "total", "critical"); return err }, `mission and well-being impact "critical" is not one of low, medium, high`},
		{"bod automatable", func() error { _, _, err := BOD2604(true, true, "", "total"); return err }, `automatable "" is not one of yes, no`},
		{"bod technical impact", func() error { _, _, err := BOD2604(true, true, "no", "none"); return err }, `technical impact "none" is not one of partial, total`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTableValidation(t *testing.T) {
	good, err := os.ReadFile("data/cisa_coordinator_2_0_3.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(good)), "\n")
	join := func(ls []string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }
	dup := append(append([]string(nil), lines...), "36,none,no,partial,low,track")
	missing := append([]string(nil), lines[:len(lines)-1]...)
	badVal := append([]string(nil), lines...)
	badVal[3] = "2,none,no,partial,high,panic"
	badHeader := append([]string(nil), lines...)
	badHeader[0] = "row,Exploit,Automatable,Technical Impact,Mission,Decision"
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"duplicate", join(dup), "line 38: combination none/no/partial/low appears twice"},
		{"missing", join(missing), "incomplete: 35 of 36"},
		{"bad decision", join(badVal), `line 4: decision "panic" is not one of track, track*, attend, act`},
		{"bad header", join(badHeader), `header column 2 is "Exploit"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := (&tables{}).parseCoordinator(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if err := (&tables{}).parseBOD([]byte("row,In KEV,Publicly Exposed,Automatable,Technical Impact,CISA BOD 26-04 Remediation Timelines\n0,no,no,no,partial,7 days\n")); err == nil || !strings.Contains(err.Error(), `timeline "7 days"`) {
		t.Fatalf("bod err = %v", err)
	}
}

func TestTablesExported(t *testing.T) {
	c, err := CoordinatorTable()
	if err != nil || len(c) != 36 || c[29].Decision != Act || c[29].Row != 29 {
		t.Fatalf("coordinator table: %v len %d", err, len(c))
	}
	b, err := BODTable()
	if err != nil || len(b) != 16 || !b[15].InKEV || b[15].Timeline != Timeline3DaysForensic {
		t.Fatalf("bod table: %v len %d", err, len(b))
	}
}

func BenchmarkCoordinator(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Coordinator("public poc", "yes", "total", "high")
	}
}
