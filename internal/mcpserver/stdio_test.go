package mcpserver

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vulnpilot/vulnpilot/internal/governance"
)

// TestStdioRunsAsTheConfiguredIdentity serves stdio over pipes as a viewer:
// risk tools work, Falcon tools are refused by name of the missing scope.
func TestStdioRunsAsTheConfiguredIdentity(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clientIn, serverOut := io.Pipe()
	serverIn, clientOut := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- env.srv.ServeStdio(ctx, serverIn, serverOut, identity(t, governance.RoleViewer)) }()

	c := client.NewClient(transport.NewIO(clientIn, clientOut, io.NopCloser(strings.NewReader(""))),
		client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: mcp.ProtocolVersion20251125, ClientInfo: mcp.Implementation{Name: "stdio-test", Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range list.Tools {
		if !strings.HasPrefix(tl.Name, "risk_") {
			t.Fatalf("viewer over stdio sees %s", tl.Name)
		}
	}
	res, err := callTool(ctx, c, "risk_prioritize", map[string]any{"limit": 1})
	if err != nil || res.IsError {
		t.Fatalf("risk_prioritize over stdio: %v %v", err, texts(res))
	}
	res, err = callTool(ctx, c, "falcon_search_hosts", nil)
	if err != nil || !res.IsError || !strings.Contains(texts(res)[0], "needs scope hosts:read") {
		t.Fatalf("falcon_search_hosts over stdio: %v %v", err, texts(res))
	}
	cancel()
	clientOut.Close()
	if err := <-done; err != nil {
		t.Fatalf("ServeStdio: %v", err)
	}
}
