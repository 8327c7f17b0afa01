package risk

import (
	"fmt"
	"strings"
)

// Explain renders an assessment as plain text for a person: the verdict, the
// factors with their points, the evidence, the CISA decisions and any
// deviation. External text in it is already cleaned and quoted.
func Explain(a Assessment) string {
	var b strings.Builder
	if a.NotScored != "" {
		fmt.Fprintf(&b, "%s on %s: not scored (%s)\n", a.CVE, a.AID, a.NotScored)
		return b.String()
	}
	fmt.Fprintf(&b, "%s on %s (finding %s)\n", a.CVE, a.AID, a.FindingID)
	fmt.Fprintf(&b, "Score %.1f → %s, SLA %d days, due %s", a.Score, a.Tier, a.SLADays, day(a.Due))
	if a.Overdue {
		b.WriteString(" (OVERDUE)")
	}
	if a.Suppressed {
		b.WriteString(" [suppressed]")
	}
	fmt.Fprintf(&b, "\nLikelihood %.3f, confidence %.2f (%s)\n", a.Likelihood, a.Confidence, a.ConfidenceLabel)
	b.WriteString("Factors:\n")
	for _, f := range a.Factors {
		fmt.Fprintf(&b, "  %-13s %5.3f %+7.1f  %s\n", f.Name, f.Value, f.Points, f.Detail)
	}
	b.WriteString("Evidence:\n")
	for _, e := range a.Evidence {
		ref := e.Source
		if e.Ref != "" {
			ref += " " + e.Ref
		}
		fmt.Fprintf(&b, "  %+6.1f  %-12s [%s] %s\n", e.Points, e.Factor, ref, e.Detail)
	}
	fmt.Fprintf(&b, "SSVC: %s (row %d); BOD 26-04: %s → %s (row %d)\n", a.SSVC.Decision, a.SSVC.Row, a.BOD.Timeline, a.BOD.Tier, a.BOD.Row)
	if a.Deviation != "" {
		fmt.Fprintf(&b, "Deviation: %s\n", a.Deviation)
	}
	return b.String()
}
