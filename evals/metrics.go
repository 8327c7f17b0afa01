package evals

import (
	"math"
	"sort"
)

// Gain is the NDCG gain of a graded relevance: 2^rel − 1 (P1 7, P2 3, P3 1,
// P4 0).
func Gain(rel int) float64 { return math.Exp2(float64(rel)) - 1 }

// discount is the DCG position discount of 0-based position i.
func discount(i int) float64 { return 1 / math.Log2(float64(i)+2) }

// DCGAtK is the tie-aware discounted cumulative gain of a ranking given as
// groups of tied items, each item by its relevance, cut at k positions
// (McSherry & Najork, ECIR 2008): every position a tied group spans gets the
// group's mean gain, which is the expected DCG over all orders of the ties.
func DCGAtK(groups [][]int, k int) float64 {
	var dcg float64
	pos := 0
	for _, g := range groups {
		if pos >= k {
			break
		}
		if len(g) == 0 {
			continue
		}
		var mean float64
		for _, rel := range g {
			mean += Gain(rel)
		}
		mean /= float64(len(g))
		for i := pos; i < pos+len(g) && i < k; i++ {
			dcg += mean * discount(i)
		}
		pos += len(g)
	}
	return dcg
}

// IdealDCGAtK is the DCG of the relevances sorted best first.
func IdealDCGAtK(rels []int, k int) float64 {
	s := append([]int(nil), rels...)
	sort.Sort(sort.Reverse(sort.IntSlice(s)))
	var dcg float64
	for i := 0; i < len(s) && i < k; i++ {
		dcg += Gain(s[i]) * discount(i)
	}
	return dcg
}

// NDCGAtK is DCGAtK normalised by the ideal ordering of the same items. ok
// is false when no item is relevant (the ideal DCG is 0): NDCG is then
// undefined rather than 0 or 1.
func NDCGAtK(groups [][]int, k int) (ndcg float64, ok bool) {
	var rels []int
	for _, g := range groups {
		rels = append(rels, g...)
	}
	ideal := IdealDCGAtK(rels, k)
	if ideal == 0 {
		return 0, false
	}
	return DCGAtK(groups, k) / ideal, true
}

// Counts are the P1 confusion counts over units.
type Counts struct {
	TP int `json:"tp"` // flagged P1 and labelled P1
	FP int `json:"fp"` // flagged P1, labelled lower
	FN int `json:"fn"` // labelled P1, flagged lower
}

// Add accumulates o into c.
func (c *Counts) Add(o Counts) { c.TP += o.TP; c.FP += o.FP; c.FN += o.FN }

// Precision is TP / (TP + FP); ok is false when nothing was flagged.
func (c Counts) Precision() (float64, bool) {
	if c.TP+c.FP == 0 {
		return 0, false
	}
	return float64(c.TP) / float64(c.TP+c.FP), true
}

// Recall is TP / (TP + FN); ok is false when nothing is labelled P1.
func (c Counts) Recall() (float64, bool) {
	if c.TP+c.FN == 0 {
		return 0, false
	}
	return float64(c.TP) / float64(c.TP+c.FN), true
}

// P1Counts compares flagged and labelled tiers unit by unit (units missing
// from got count as not flagged).
func P1Counts(want, got map[Unit]Tier) Counts {
	var c Counts
	for u, w := range want {
		g := got[u]
		switch {
		case w == P1 && g == P1:
			c.TP++
		case w == P1:
			c.FN++
		case g == P1:
			c.FP++
		}
	}
	return c
}

// InTopK is the probability that the item at tied-group span [start, end)
// (0-based positions) lands in the first k positions when ties are broken
// at random.
func InTopK(start, end, k int) float64 {
	if end <= start {
		return 0
	}
	in := min(end, k) - start
	if in <= 0 {
		return 0
	}
	return float64(in) / float64(end-start)
}
