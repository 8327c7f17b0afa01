package intel

import (
	"context"
	"fmt"
	"strings"
)

// Feeds bundles the threat feeds a run uses. KEV is required (the bundled
// snapshot by default); EPSS is optional, and without it every CVE is "EPSS
// unknown".
type Feeds struct {
	KEV  *KEV
	EPSS *EPSS
}

// LoadFeeds loads the KEV catalog from kevSrc (empty: the bundled snapshot)
// and EPSS from epssSrc (empty: not configured).
func LoadFeeds(ctx context.Context, kevSrc, epssSrc string) (*Feeds, error) {
	return Loader{}.Feeds(ctx, kevSrc, epssSrc)
}

// Feeds loads both feeds with l; see LoadFeeds.
func (l Loader) Feeds(ctx context.Context, kevSrc, epssSrc string) (*Feeds, error) {
	f := &Feeds{}
	var err error
	if kevSrc == "" {
		f.KEV, err = BundledKEV()
	} else {
		f.KEV, err = l.KEV(ctx, kevSrc)
	}
	if err != nil {
		return nil, err
	}
	if epssSrc != "" {
		if f.EPSS, err = l.EPSS(ctx, epssSrc); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Describe is the feeds' provenance, e.g.
// "KEV catalog 2025.08.25 (bundled); EPSS v2025.03.14 scored 2025-06-01".
func (f *Feeds) Describe() string {
	return strings.Join(f.DescribeLines(), "; ")
}

// DescribeLines is Describe as one line per feed.
func (f *Feeds) DescribeLines() []string {
	var kev, epss string
	switch {
	case f == nil || f.KEV == nil:
		kev = "KEV: not loaded"
	case f.KEV.Source == BundledSource:
		kev = fmt.Sprintf("KEV catalog %s (bundled)", f.KEV.CatalogVersion)
	default:
		kev = fmt.Sprintf("KEV catalog %s (from %s)", f.KEV.CatalogVersion, f.KEV.Source)
	}
	switch {
	case f == nil || f.EPSS == nil:
		epss = "EPSS: not configured"
	default:
		e := f.EPSS
		v := e.ModelVersion
		if v == "" {
			v = "(model version unknown)"
		}
		epss = "EPSS " + v
		if d := e.ScoreDay(); d != "" {
			epss += " scored " + d
		}
	}
	return []string{kev, epss}
}
