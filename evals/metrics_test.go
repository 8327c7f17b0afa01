package evals

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestNDCGKnownAnswers(t *testing.T) {
	// Gains 2^rel − 1, discounts 1/log2(i+2).
	d := func(i int) float64 { return 1 / math.Log2(float64(i)+2) }
	tests := []struct {
		name   string
		groups [][]int
		k      int
		want   float64
		ok     bool
	}{
		{"ideal order", [][]int{{3}, {2}, {1}, {0}}, 10, 1, true},
		{"reversed", [][]int{{0}, {1}, {2}, {3}}, 10,
			(1*d(1) + 3*d(2) + 7*d(3)) / (7 + 3*d(1) + 1*d(2)), true},
		{"swap of the top two", [][]int{{2}, {3}}, 10, (3 + 7*d(1)) / (7 + 3*d(1)), true},
		{"cut at k=1 sees only the first", [][]int{{2}, {3}}, 1, 3.0 / 7, true},
		{"all tied: every position gets the mean gain", [][]int{{3, 0}}, 10,
			(3.5 + 3.5*d(1)) / (7 + 0*d(1)), true},
		{"tie straddling k counts only positions before k", [][]int{{0}, {3, 0}}, 2,
			(0 + 3.5*d(1)) / 7, true},
		{"binary relevance textbook case", [][]int{{1}, {0}, {1}}, 3, (1 + 1*d(2)) / (1 + 1*d(1)), true},
		{"no relevant item: undefined", [][]int{{0}, {0}}, 10, 0, false},
		{"empty ranking: undefined", nil, 10, 0, false},
		{"empty groups are skipped", [][]int{{}, {3}, {}}, 10, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NDCGAtK(tt.groups, tt.k)
			if ok != tt.ok || !near(got, tt.want) {
				t.Fatalf("NDCG@%d = %.6f (ok %v), want %.6f (ok %v)", tt.k, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// Averaging over every order of a tie must equal the tie-aware DCG.
func TestTieAwareDCGIsTheMeanOverOrders(t *testing.T) {
	group := []int{3, 1, 0}
	perms := [][]int{{3, 1, 0}, {3, 0, 1}, {1, 3, 0}, {1, 0, 3}, {0, 3, 1}, {0, 1, 3}}
	for _, k := range []int{1, 2, 3, 4} {
		var sum float64
		for _, p := range perms {
			var gs [][]int
			gs = append(gs, []int{2})
			for _, r := range p {
				gs = append(gs, []int{r})
			}
			sum += DCGAtK(gs, k)
		}
		want := sum / float64(len(perms))
		if got := DCGAtK([][]int{{2}, group}, k); !near(got, want) {
			t.Errorf("k=%d: tie-aware DCG %.6f, mean over orders %.6f", k, got, want)
		}
	}
}

func TestPrecisionRecallEdgeCases(t *testing.T) {
	u := func(i int) Unit { return Unit{AID: "h", CVE: "CVE-2024-000" + string(rune('0'+i))} }
	tests := []struct {
		name          string
		want, got     map[Unit]Tier
		counts        Counts
		prec, rec     float64
		precOK, recOK bool
	}{
		{"perfect", map[Unit]Tier{u(1): P1, u(2): P2}, map[Unit]Tier{u(1): P1, u(2): P2}, Counts{TP: 1}, 1, 1, true, true},
		{"nothing flagged, P1s exist", map[Unit]Tier{u(1): P1}, map[Unit]Tier{u(1): P2}, Counts{FN: 1}, 0, 0, false, true},
		{"nothing labelled P1, one flagged", map[Unit]Tier{u(1): P3}, map[Unit]Tier{u(1): P1}, Counts{FP: 1}, 0, 0, true, false},
		{"nothing on either side", map[Unit]Tier{u(1): P4}, map[Unit]Tier{u(1): P4}, Counts{}, 0, 0, false, false},
		{"missing from the output counts as not flagged", map[Unit]Tier{u(1): P1, u(2): P1}, map[Unit]Tier{u(1): P1}, Counts{TP: 1, FN: 1}, 1, 0.5, true, true},
		{"mixed", map[Unit]Tier{u(1): P1, u(2): P2, u(3): P1, u(4): P4}, map[Unit]Tier{u(1): P1, u(2): P1, u(3): P3, u(4): P1},
			Counts{TP: 1, FP: 2, FN: 1}, 1.0 / 3, 0.5, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := P1Counts(tt.want, tt.got)
			if c != tt.counts {
				t.Fatalf("counts %+v, want %+v", c, tt.counts)
			}
			p, pok := c.Precision()
			r, rok := c.Recall()
			if pok != tt.precOK || (pok && !near(p, tt.prec)) {
				t.Errorf("precision %v (ok %v), want %v (ok %v)", p, pok, tt.prec, tt.precOK)
			}
			if rok != tt.recOK || (rok && !near(r, tt.rec)) {
				t.Errorf("recall %v (ok %v), want %v (ok %v)", r, rok, tt.rec, tt.recOK)
			}
		})
	}
}

func TestInTopK(t *testing.T) {
	tests := []struct {
		start, end, k int
		want          float64
	}{
		{0, 1, 1, 1},
		{1, 2, 1, 0},
		{0, 4, 2, 0.5},  // a 4-way tie at the top, k=2: half the orders
		{2, 6, 3, 0.25}, // one of four tied positions falls before k
		{3, 3, 5, 0},    // empty span
		{5, 8, 5, 0},
	}
	for _, tt := range tests {
		if got := InTopK(tt.start, tt.end, tt.k); !near(got, tt.want) {
			t.Errorf("InTopK(%d, %d, %d) = %v, want %v", tt.start, tt.end, tt.k, got, tt.want)
		}
	}
}

func TestTierRelevance(t *testing.T) {
	for tier, want := range map[Tier]int{P1: 3, P2: 2, P3: 1, P4: 0, "": 0, "P5": 0} {
		if got := tier.Relevance(); got != want {
			t.Errorf("%q relevance %d, want %d", tier, got, want)
		}
	}
}
