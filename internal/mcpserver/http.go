package mcpserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/vulnpilot/vulnpilot/internal/governance"
)

// HTTPOptions configure the streamable HTTP transport.
type HTTPOptions struct {
	// Addr is the listen address, e.g. 127.0.0.1:8765.
	Addr string
	// TLSCert and TLSKey, when both set, serve HTTPS.
	TLSCert, TLSKey string
	// Tokens authenticate callers; required.
	Tokens *governance.Tokens
	// PublicURL is how clients reach the server (its host is an allowed
	// Host header; with OAuth it is the resource identifier). Empty: the
	// listen address.
	PublicURL string
	// AllowedHosts are extra accepted Host header values; loopback names
	// are always accepted.
	AllowedHosts []string
	// AllowedOrigins are browser origins accepted in the Origin header;
	// loopback origins are always accepted, requests without Origin too.
	AllowedOrigins []string
	// OAuth, when it lists authorization servers, publishes RFC 9728
	// protected-resource metadata and points 401s at it.
	OAuth OAuth
}

// OAuth is the authorization-server information for clients.
type OAuth struct {
	AuthorizationServers []string
	ScopesSupported      []string
	Documentation        string
}

// Endpoint paths.
const (
	PathMCP     = "/mcp"
	PathHealth  = "/healthz"
	PathMetrics = "/metrics"
)

// Handler is the HTTP surface: /mcp (authenticated), /healthz, /metrics
// and, with OAuth, the protected-resource metadata. Host and Origin checks
// apply to every path.
func (s *Server) Handler(o HTTPOptions) (http.Handler, error) {
	if o.Tokens == nil || o.Tokens.Len() == 0 {
		return nil, errors.New("mcpserver: HTTP needs at least one bearer token (server.tokens)")
	}
	publicURL := o.PublicURL
	if publicURL == "" {
		scheme := "http"
		if o.TLSCert != "" {
			scheme = "https"
		}
		publicURL = scheme + "://" + o.Addr
	}
	pu, err := url.Parse(publicURL)
	if err != nil || pu.Host == "" {
		return nil, fmt.Errorf("mcpserver: public URL %q is not an absolute URL", publicURL)
	}
	hosts := append(slices.Clone(o.AllowedHosts), pu.Host)
	if h, _, err := net.SplitHostPort(o.Addr); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		hosts = append(hosts, h)
	}
	resource := strings.TrimSuffix(publicURL, "/") + PathMCP
	var metaURL string
	mux := http.NewServeMux()
	if len(o.OAuth.AuthorizationServers) > 0 {
		cfg := server.ProtectedResourceMetadataConfig{
			Resource:               resource,
			AuthorizationServers:   o.OAuth.AuthorizationServers,
			ScopesSupported:        o.OAuth.ScopesSupported,
			BearerMethodsSupported: []string{"header"},
			ResourceName:           "vulnpilot MCP server",
			ResourceDocumentation:  o.OAuth.Documentation,
		}
		path := server.ProtectedResourceMetadataPath(resource)
		metaURL = strings.TrimSuffix(publicURL, "/") + path
		mux.Handle(path, server.NewProtectedResourceMetadataHandler(cfg))
	}
	streamable := server.NewStreamableHTTPServer(s.mcp,
		server.WithEndpointPath(PathMCP),
		server.WithAllowedHosts(hosts...),
		server.WithStreamableHTTPLogger(s.log),
		server.WithSessionIdleTTL(30*time.Minute),
		server.WithMaxRequestBodyBytes(1<<20),
	)
	mux.Handle(PathMCP, s.authenticate(o.Tokens, metaURL, streamable))
	mux.HandleFunc(PathHealth, s.health)
	mux.Handle(PathMetrics, s.metrics.Handler())
	return s.checkHostAndOrigin(hosts, o.AllowedOrigins, mux), nil
}

// authenticate resolves the bearer token to an identity, or answers 401
// with a WWW-Authenticate challenge (RFC 6750, RFC 9728 §5.1).
func (s *Server) authenticate(tokens *governance.Tokens, metaURL string, next http.Handler) http.Handler {
	challenge := `Bearer realm="vulnpilot"`
	if metaURL != "" {
		challenge += `, resource_metadata="` + metaURL + `"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			s.metrics.refused("missing_token")
			w.Header().Set("WWW-Authenticate", challenge)
			writeJSONError(w, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <token>; tokens are issued by the server's operator")
			return
		}
		id, ok := tokens.Authenticate(token)
		if !ok {
			s.metrics.refused("invalid_token")
			// The token is never logged, not even in part.
			s.log.InfoContext(r.Context(), "rejected bearer token", "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_token", error_description="unknown token"`)
			writeJSONError(w, http.StatusUnauthorized, "invalid_token", "the bearer token is not valid for this server")
			return
		}
		next.ServeHTTP(w, r.WithContext(governance.WithIdentity(r.Context(), id)))
	})
}

// checkHostAndOrigin refuses DNS-rebinding and cross-site requests: the
// Host header must name this server, and a browser Origin must be allowed.
func (s *Server) checkHostAndOrigin(hosts, origins []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, hosts) {
			s.metrics.refused("host")
			writeJSONError(w, http.StatusForbidden, "forbidden_host", fmt.Sprintf("Host %q is not served here; add it to server.allowed_hosts", trunc(r.Host, 100)))
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !originAllowed(o, origins) {
			s.metrics.refused("origin")
			writeJSONError(w, http.StatusForbidden, "forbidden_origin", fmt.Sprintf("Origin %q is not allowed; add it to server.allowed_origins", trunc(o, 100)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func isLoopbackName(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func splitHost(hostport string) (host, port string) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return strings.Trim(hostport, "[]"), ""
	}
	return h, p
}

// hostAllowed: loopback names on any port, or an allowed entry (an entry
// without a port matches any port).
func hostAllowed(reqHost string, allowed []string) bool {
	h, p := splitHost(strings.ToLower(reqHost))
	if h == "" {
		return false
	}
	if isLoopbackName(h) {
		return true
	}
	for _, e := range allowed {
		eh, ep := splitHost(strings.ToLower(e))
		if eh == h && (ep == "" || ep == p) {
			return true
		}
	}
	return false
}

func originAllowed(origin string, allowed []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if isLoopbackName(u.Hostname()) {
		return true
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": msg})
}

// health answers 200 once the risk snapshot is ready (503 before), with
// the snapshot's status; it needs no token and reveals no tenant data
// beyond counts and times.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"status": "ok", "version": s.opts.Version}
	code := http.StatusOK
	if s.opts.Snapshots != nil {
		st := s.opts.Snapshots.Status()
		body["snapshot"] = st
		if !st.Ready {
			body["status"] = "starting"
			code = http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// ListenAndServe serves Handler(o) on o.Addr until ctx ends, then shuts
// down gracefully. ready, when not nil, receives the bound address.
func (s *Server) ListenAndServe(ctx context.Context, o HTTPOptions, ready func(addr net.Addr)) error {
	h, err := s.Handler(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.Addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if o.TLSCert != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() {
		if o.TLSCert != "" {
			errc <- srv.ServeTLS(ln, o.TLSCert, o.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
