package risk

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkScore(b *testing.B) {
	e := mustEngine(nil)
	ins := []*Input{kevDCInput(), isolatedWorkstationInput()}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Score(ins[i&1])
		i++
	}
}

func BenchmarkAssess(b *testing.B) {
	e := mustEngine(nil)
	ins := []*Input{kevDCInput(), isolatedWorkstationInput()}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Assess(ins[i&1])
		i++
	}
}

// TestScoreDoesNotAllocate guards the fast path's promise (it runs on every
// finding of a run) across inputs that exercise every signal.
func TestScoreDoesNotAllocate(t *testing.T) {
	e := mustEngine(nil)
	r := rand.New(rand.NewPCG(5, 6))
	ins := []*Input{kevDCInput(), isolatedWorkstationInput()}
	for range 50 {
		ins = append(ins, randomInput(r))
	}
	e.Score(ins[0]) // load the SSVC tables once
	for i, in := range ins {
		if n := testing.AllocsPerRun(20, func() { e.Score(in) }); n != 0 {
			t.Fatalf("input %d: Score allocates %v times", i, n)
		}
	}
}

// BenchmarkScoreMixed scores a mix of random inputs (alerts, intel, KEV,
// suppression, missing EPSS ...).
func BenchmarkScoreMixed(b *testing.B) {
	e := mustEngine(nil)
	r := rand.New(rand.NewPCG(9, 9))
	ins := make([]*Input, 1024)
	for i := range ins {
		ins[i] = randomInput(r)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Score(ins[i&1023])
		i++
	}
}
