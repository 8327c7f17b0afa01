package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/vulnpilot/vulnpilot/internal/exploitmodel"
)

func cmdModel(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(a.stderr, "Usage: vulnpilot model train [--out FILE] [--cves FILE] [--kev FILE] [--report FILE]\n\n"+
			"  train   retrain the exploitation-likelihood model from the real data, reproducibly\n")
		if len(args) == 0 {
			return usageError{"missing subcommand (train)"}
		}
		return nil
	}
	switch args[0] {
	case "train":
		return cmdModelTrain(ctx, a, args[1:])
	}
	return usageError{fmt.Sprintf("unknown subcommand %q (want train)", args[0])}
}

// cmdModelTrain retrains the model with the default options: same data →
// byte-identical model file (what `make model` and go generate rely on).
func cmdModelTrain(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("model train", "model train [--out FILE] [--cves FILE] [--kev FILE] [--report FILE]")
	out := fs.String("out", "internal/exploitmodel/model_v1.json", "model file to write (atomically); - for stdout")
	cves := fs.String("cves", "evals/realdata/cves.jsonl.gz", "CVE records (Vulnrichment compact JSONL, gz or plain)")
	kev := fs.String("kev", "evals/realdata/kev.json", "CISA KEV catalog JSON (the label)")
	reportFile := fs.String("report", "", "also write the test-split report as Markdown to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, rep, err := exploitmodel.Train(ctx, *cves, *kev, exploitmodel.DefaultTrainOptions())
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := m.WriteJSON(&buf); err != nil {
		return err
	}
	if err := writeOutput(*out, a.stdout, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	}); err != nil {
		return err
	}
	if *reportFile != "" {
		if err := writeOutput(*reportFile, a.stdout, func(w io.Writer) error {
			_, err := io.WriteString(w, rep.Markdown())
			return err
		}); err != nil {
			return err
		}
	}
	// The report goes to stderr when the model itself went to stdout.
	w := a.stdout
	if *out == "" || *out == "-" {
		w = a.stderr
	}
	fmt.Fprintf(w, "model %s written to %s\n\n%s", m.Version(), displayPath(*out), rep.Markdown())
	return nil
}

func displayPath(p string) string {
	if p == "" || p == "-" {
		return "stdout"
	}
	return p
}
