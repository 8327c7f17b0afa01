package mcpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/mark3labs/mcp-go/server"

	"github.com/vulnpilot/vulnpilot/internal/governance"
)

// ServeStdio serves one local client over in/out (newline-delimited
// JSON-RPC) as the given identity until ctx ends or in closes. Logs must go
// elsewhere (stderr): out is the protocol stream.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer, id governance.Identity) error {
	srv := server.NewStdioServer(s.mcp)
	srv.SetErrorLogger(slog.NewLogLogger(s.log.Handler(), slog.LevelWarn))
	srv.SetContextFunc(func(ctx context.Context) context.Context { return governance.WithIdentity(ctx, id) })
	err := srv.Listen(ctx, in, out)
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
