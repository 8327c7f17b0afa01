package risk

import "testing"

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
