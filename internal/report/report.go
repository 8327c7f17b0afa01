// Package report renders a prioritized remediation queue for people and
// programs: a terminal table, a JSON document, a Markdown report. Every
// string from Falcon or a feed is data; renderers escape it for their format
// (control characters stripped for terminals, Markdown metacharacters
// escaped) so a hostile hostname or description cannot forge output.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/vulnpilot/vulnpilot/internal/plan"
	"github.com/vulnpilot/vulnpilot/internal/risk"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
)

// Formats accepted by --output.
var Formats = []string{"table", "json", "markdown"}

// Document is the JSON output of `vulnpilot run --output json`.
type Document struct {
	Summary snapshot.Summary `json:"summary"`
	Run     RunInfo          `json:"run"`
	// Queue holds work items highest risk first (all of them, or the top N
	// when --top was given; Summary.Items is the full count).
	Queue []QueueItem `json:"queue"`
}

// RunInfo describes the run that produced the document.
type RunInfo struct {
	ID        string    `json:"id"`
	Mode      string    `json:"mode"`
	Pulled    int       `json:"pulled"`
	Watermark time.Time `json:"watermark,omitzero"`
}

// QueueItem is one work item in the JSON document.
type QueueItem struct {
	Rank        int              `json:"rank"`
	Key         string           `json:"key"`
	Kind        string           `json:"kind"`
	Tier        risk.Tier        `json:"tier"`
	Score       float64          `json:"score"`
	Due         string           `json:"due"` // YYYY-MM-DD
	Overdue     bool             `json:"overdue"`
	Hosts       []plan.HostRef   `json:"hosts"`
	CVEs        []string         `json:"cves"`
	Findings    int              `json:"findings"`
	Remediation plan.Remediation `json:"remediation"`
	Evidence    []risk.Evidence  `json:"evidence"`
}

// NewDocument builds the JSON document from a queue.
func NewDocument(sum snapshot.Summary, run RunInfo, items []plan.WorkItem) Document {
	d := Document{Summary: sum, Run: run, Queue: make([]QueueItem, len(items))}
	for i, it := range items {
		d.Queue[i] = QueueItem{
			Rank: i + 1, Key: it.Key, Kind: it.Kind, Tier: it.Tier, Score: it.Score,
			Due: it.Due.UTC().Format(time.DateOnly), Overdue: it.Overdue,
			Hosts: it.Hosts, CVEs: it.CVEs, Findings: len(it.FindingIDs),
			Remediation: it.Remediation, Evidence: it.Evidence,
		}
		if d.Queue[i].Evidence == nil {
			d.Queue[i].Evidence = []risk.Evidence{}
		}
	}
	return d
}

// JSON writes the document, indented.
func JSON(w io.Writer, d Document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// Table writes a terminal table of the queue with a short summary.
func Table(w io.Writer, d Document) error {
	s := d.Summary
	fmt.Fprintf(w, "%d open findings on %d hosts (%d CVEs) → %d work items: P1 %d, P2 %d, P3 %d, P4 %d; %d overdue, %d in CISA KEV, %d with a live detection\n",
		s.Findings, s.Hosts, s.CVEs, s.Items, s.ByTier["P1"].Items, s.ByTier["P2"].Items, s.ByTier["P3"].Items, s.ByTier["P4"].Items,
		s.Overdue, s.KEVFindings, s.ThreatActive)
	fmt.Fprintf(w, "sources: %s; %s; %s\n\n", term(s.Sources.Falcon), strings.Join(s.Sources.Feeds, "; "), s.Sources.Model)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTIER\tSCORE\tDUE\tHOSTS\tCVES\tREMEDIATION\tWHY")
	for _, q := range d.Queue {
		due := q.Due
		if q.Overdue {
			due += " (overdue)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\n", q.Rank, q.Tier, q.Score, due,
			term(hostList(q.Hosts, 2)), term(list(q.CVEs, 2)), term(clip(q.Remediation.Title, 48)), term(clip(topWhy(q.Tier, q.Evidence), 90)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := s.Items - len(d.Queue); n > 0 {
		fmt.Fprintf(w, "\n… %d more work items (use --top 0 for all, or --output json)\n", n)
	}
	for _, note := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", term(note))
	}
	return nil
}

// Markdown writes a report for humans (tickets, wikis, chat).
func Markdown(w io.Writer, d Document) error {
	s := d.Summary
	fmt.Fprintf(w, "# Vulnerability remediation queue\n\n")
	fmt.Fprintf(w, "Assessed %s. %d open findings on %d hosts (%d distinct CVEs) grouped into **%d work items**; %d findings overdue, %d in CISA KEV, %d tied to a live detection.\n\n",
		s.AssessedAt.UTC().Format(time.RFC3339), s.Findings, s.Hosts, s.CVEs, s.Items, s.Overdue, s.KEVFindings, s.ThreatActive)
	fmt.Fprintf(w, "| Tier | Work items | Findings |\n|---|---:|---:|\n")
	for _, t := range []string{"P1", "P2", "P3", "P4"} {
		fmt.Fprintf(w, "| %s | %d | %d |\n", t, s.ByTier[t].Items, s.ByTier[t].Findings)
	}
	if len(s.ByBU) > 0 {
		fmt.Fprintf(w, "\n## By business unit\n\n| Business unit | Findings | P1 | P2 | Overdue |\n|---|---:|---:|---:|---:|\n")
		for _, g := range s.ByBU {
			fmt.Fprintf(w, "| %s | %d | %d | %d | %d |\n", md(g.Name), g.Findings, g.ByTier["P1"], g.ByTier["P2"], g.Overdue)
		}
	}
	fmt.Fprintf(w, "\n## Queue\n")
	for _, q := range d.Queue {
		due := q.Due
		if q.Overdue {
			due += " (overdue)"
		}
		fmt.Fprintf(w, "\n### %d. %s · %s · score %.1f · due %s\n\n", q.Rank, q.Tier, md(q.Remediation.Title), q.Score, due)
		fmt.Fprintf(w, "- Key: `%s` (%s)\n", md(q.Key), q.Kind)
		fmt.Fprintf(w, "- Hosts (%d): %s\n", len(q.Hosts), md(hostList(q.Hosts, 10)))
		fmt.Fprintf(w, "- CVEs (%d): %s\n", len(q.CVEs), md(list(q.CVEs, 10)))
		if len(q.Evidence) > 0 {
			fmt.Fprintf(w, "- Why:\n")
			for _, e := range q.Evidence {
				pts := ""
				if e.Points != 0 {
					pts = fmt.Sprintf(" (+%.1f)", e.Points)
				}
				fmt.Fprintf(w, "  - [%s] %s%s\n", md(e.Source), md(e.Detail), pts)
			}
		}
	}
	fmt.Fprintf(w, "\n---\nSources: %s; %s; %s. Policy: %s. Planner: %s.\n", md(s.Sources.Falcon), md(strings.Join(s.Sources.Feeds, "; ")), md(s.Sources.Model), md(s.Sources.Policy), md(s.Sources.Planner))
	for _, n := range s.Notes {
		fmt.Fprintf(w, "\n> Note: %s\n", md(n))
	}
	return nil
}

// topWhy is the one-line reason for a row: the policy rule that set the
// tier when a rule (not the score) did, then the strongest evidence.
func topWhy(tier risk.Tier, ev []risk.Evidence) string {
	var parts []string
	for _, e := range ev {
		if e.Factor == "tier" && e.Value == string(tier) && (strings.HasPrefix(e.Ref, "escalation.") || strings.HasPrefix(e.Ref, "demotion.")) {
			parts = append(parts, e.Detail)
			break
		}
	}
	for _, e := range ev {
		if e.Points > 0 && len(parts) < 2 {
			parts = append(parts, e.Detail)
		}
	}
	return strings.Join(parts, "; ")
}

func hostList(hs []plan.HostRef, n int) string {
	names := make([]string, 0, min(n, len(hs)))
	for i, h := range hs {
		if i == n {
			break
		}
		names = append(names, h.Hostname)
	}
	s := strings.Join(names, ", ")
	if len(hs) > n {
		s += fmt.Sprintf(" +%d", len(hs)-n)
	}
	return s
}

func list(xs []string, n int) string {
	s := strings.Join(xs[:min(n, len(xs))], ", ")
	if len(xs) > n {
		s += fmt.Sprintf(" +%d", len(xs)-n)
	}
	return s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// term strips control characters (ANSI escapes, newlines, tabs) so external
// text cannot rewrite the terminal or break the table.
func term(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, s)
}

var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;",
	"|", `\|`, "#", `\#`, "!", `\!`, "(", `\(`, ")", `\)`,
)

// md makes external text inert in Markdown: no links, images, HTML, tables
// or headings can be injected, and it stays on one line.
func md(s string) string {
	return mdEscaper.Replace(term(s))
}
