package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/vulnpilot/vulnpilot/tools"
)

func cmdTools(_ context.Context, a *app, args []string) error {
	fs := a.newFlagSet("tools", "tools [--markdown | --json]\n\nLists every MCP tool with its toolset, required scope and annotations.")
	md := fs.Bool("markdown", false, "print the README tables (tools and roles) as Markdown; tools/TOOLS.md is this output")
	js := fs.Bool("json", false, "print the tools with their input schemas as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *md && *js {
		return usageError{"--markdown and --json are exclusive"}
	}
	all := tools.All()
	switch {
	case *md:
		_, err := fmt.Fprint(a.stdout, tools.Markdown())
		return err
	case *js:
		type out struct {
			Name         string          `json:"name"`
			Toolset      string          `json:"toolset"`
			Scope        string          `json:"scope"`
			Title        string          `json:"title"`
			Description  string          `json:"description"`
			Annotations  map[string]bool `json:"annotations"`
			FalconScopes []string        `json:"falcon_scopes"`
			InputSchema  json.RawMessage `json:"input_schema"`
		}
		list := make([]out, len(all))
		for i, t := range all {
			list[i] = out{Name: t.Name, Toolset: t.Toolset, Scope: string(t.Scope), Title: t.Title, Description: t.Description,
				Annotations: map[string]bool{"read_only": t.Annotations.ReadOnly.Bool(), "destructive": t.Annotations.Destructive.Bool(),
					"idempotent": t.Annotations.Idempotent.Bool(), "open_world": t.Annotations.OpenWorld.Bool()},
				FalconScopes: t.FalconScopes, InputSchema: t.InputSchema()}
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tTOOLSET\tSCOPE\tREAD-ONLY\tDESTRUCTIVE\tIDEMPOTENT\tOPEN-WORLD\tTITLE")
	for _, t := range all {
		an := t.Annotations
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Toolset, t.Scope, an.ReadOnly, an.Destructive, an.Idempotent, an.OpenWorld, t.Title)
	}
	return tw.Flush()
}
