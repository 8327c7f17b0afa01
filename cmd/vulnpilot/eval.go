package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vulnpilot/vulnpilot/evals"
	"github.com/vulnpilot/vulnpilot/internal/exploitmodel"
)

// exitThresholds is the exit status of an eval run that missed a threshold
// (1 is any other error, 2 a bad invocation).
const exitThresholds = 3

var evalFormats = []string{"table", "json", "markdown"}

func cmdEval(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("eval", "eval [--fixtures DIR] [--thresholds FILE] [--output table|json|markdown] [--real-data [--realdata-dir DIR]]")
	fixtures := fs.String("fixtures", "evals/fixtures", "directory of scenarios (one subdirectory per scenario, each with a scenario.yaml)")
	thresholds := fs.String("thresholds", "", "pass/fail rules (default: thresholds.yaml next to the fixtures directory, i.e. evals/thresholds.yaml)")
	output := fs.String("output", "table", "output format: table, json, markdown")
	outFile := fs.String("o", "", "write the output to this file instead of stdout")
	realData := fs.Bool("real-data", false, "instead of the scenarios, print the exploitation model's time-split evaluation on the real CVE/KEV data")
	realDir := fs.String("realdata-dir", "evals/realdata", "directory with cves.jsonl.gz and kev.json for --real-data")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !slices.Contains(evalFormats, *output) {
		return usageError{fmt.Sprintf("--output %q is not one of %s", *output, strings.Join(evalFormats, ", "))}
	}
	if *realData {
		return evalRealData(ctx, a, *realDir, *output, *outFile)
	}
	if *thresholds == "" {
		*thresholds = filepath.Join(filepath.Dir(filepath.Clean(*fixtures)), "thresholds.yaml")
	}
	// Thresholds first: a broken rules file should not cost a run.
	th, err := evals.LoadThresholds(*thresholds)
	if err != nil {
		return err
	}
	scenarios, err := evals.LoadScenarios(ctx, *fixtures)
	if err != nil {
		return err
	}
	rep, err := evals.Run(ctx, scenarios, evals.Options{Fixtures: *fixtures})
	if err != nil {
		return err
	}
	failed := th.Check(rep)
	err = writeOutput(*outFile, a.stdout, func(w io.Writer) error {
		switch *output {
		case "json":
			return rep.WriteJSON(w)
		case "markdown":
			return rep.WriteMarkdown(w)
		}
		return rep.WriteTable(w)
	})
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		for _, c := range failed {
			fmt.Fprintf(a.stderr, "vulnpilot eval: threshold missed (%s): %s\n", c.Rule, c.Detail)
		}
		return exitCode(exitThresholds)
	}
	return nil
}

// evalRealData evaluates the bundled exploitation model on the test split
// of the real data (the EPSS-style effort/coverage/efficiency table).
func evalRealData(ctx context.Context, a *app, dir, output, outFile string) error {
	m, err := exploitmodel.Bundled()
	if err != nil {
		return fmt.Errorf("exploitation model: %w", err)
	}
	rep, err := exploitmodel.Evaluate(ctx, m, filepath.Join(dir, "cves.jsonl.gz"), filepath.Join(dir, "kev.json"), exploitmodel.DefaultTrainOptions())
	if err != nil {
		return err
	}
	return writeOutput(outFile, a.stdout, func(w io.Writer) error {
		if output == "json" {
			b, err := rep.JSON()
			if err != nil {
				return err
			}
			_, err = w.Write(append(b, '\n'))
			return err
		}
		_, err := io.WriteString(w, rep.Markdown())
		return err
	})
}
