package falconsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

// Environment variables a client of the simulator needs. FALCON_* follow
// the Falcon SDK conventions; VULNPILOT_FALCON_CA_FILE names the PEM file of
// the simulator's self-signed certificate (trust it like SSL_CERT_FILE).
const (
	EnvClientID     = "FALCON_CLIENT_ID"
	EnvClientSecret = "FALCON_CLIENT_SECRET"
	EnvBaseURL      = "FALCON_BASE_URL"
	EnvCAFile       = "VULNPILOT_FALCON_CA_FILE"
)

// Running is a simulator serving HTTPS on a local address.
type Running struct {
	URL      string // https://127.0.0.1:PORT
	Host     string // 127.0.0.1:PORT, for gofalcon's HostOverride
	CertPEM  []byte
	CertFile string       // CertPEM written to a temporary file, removed by Close
	Client   *http.Client // trusts the certificate

	srv      *http.Server
	done     chan struct{}
	ownsFile bool
	once     sync.Once
}

// selfSigned makes an ECDSA P-256 certificate for the loopback names, valid
// for a day; it is its own CA so clients can trust it directly.
func selfSigned() (tls.Certificate, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "vulnpilot falcon simulator", Organization: []string{"vulnpilot"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	return cert, certPEM, keyPEM, err
}

// StartTLS serves the API over HTTPS on addr ("127.0.0.1:0" picks a port)
// with a fresh self-signed certificate, until ctx is done or Close.
func (s *Server) StartTLS(ctx context.Context, addr string) (*Running, error) {
	cert, certPEM, _, err := selfSigned()
	if err != nil {
		return nil, fmt.Errorf("falconsim: making certificate: %w", err)
	}
	f, err := os.CreateTemp("", "vulnpilot-falconsim-*.pem")
	if err != nil {
		return nil, fmt.Errorf("falconsim: writing certificate: %w", err)
	}
	if _, err := f.Write(certPEM); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("falconsim: writing certificate: %w", err)
	}
	f.Close()
	r, err := s.serveTLS(ctx, addr, cert, certPEM)
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	r.CertFile, r.ownsFile = f.Name(), true
	return r, nil
}

func (s *Server) serveTLS(ctx context.Context, addr string, cert tls.Certificate, certPEM []byte) (*Running, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("falconsim: listen %s: %w", addr, err)
	}
	tlsLn := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	host := ln.Addr().String()
	r := &Running{
		URL:     "https://" + host,
		Host:    host,
		CertPEM: certPEM,
		Client: &http.Client{
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 16},
			Timeout:   2 * time.Minute,
		},
		// Connection-level noise (a client resetting at shutdown, a TLS
		// handshake from a scanner) goes to the debug log, not to stderr.
		srv:  &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)},
		done: make(chan struct{}),
	}
	go func() {
		defer close(r.done)
		if err := r.srv.Serve(tlsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("falconsim: serve", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			r.Close()
		case <-r.done:
		}
	}()
	s.log.Info("falconsim: serving", "url", r.URL)
	return r, nil
}

// Close stops the server and removes the temporary certificate file.
func (r *Running) Close() {
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.srv.Shutdown(ctx); err != nil {
			_ = r.srv.Close()
		}
		<-r.done
		if t, ok := r.Client.Transport.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
		if r.ownsFile {
			os.Remove(r.CertFile)
		}
	})
}

// Env is the environment a client process needs to reach this simulator.
func (r *Running) Env(clientID, secret string) []string {
	return []string{
		EnvClientID + "=" + clientID,
		EnvClientSecret + "=" + secret,
		EnvBaseURL + "=" + r.URL,
		EnvCAFile + "=" + r.CertFile,
	}
}

// ServeConfig configures ServeFile (`vulnpilot sim serve`).
type ServeConfig struct {
	// Tenant is served when set; otherwise TenantPath is loaded. Either way
	// the tenant is resolved against the bundled CVE data.
	Tenant     *Tenant
	TenantPath string
	// Generate, when Tenant and TenantPath are empty, makes a synthetic
	// tenant.
	Generate *GenerateOptions
	Addr     string // default 127.0.0.1:8443
	// CertDir receives cert.pem and key.pem (created if missing).
	CertDir string
	Out     io.Writer // where the client environment is printed
	Options Options
}

// ServeFile loads (or generates) a tenant, writes the certificate and key
// to cfg.CertDir, prints the environment a client needs, and serves until
// ctx is done.
func ServeFile(ctx context.Context, cfg ServeConfig) error {
	if cfg.CertDir == "" {
		return errors.New("falconsim: ServeConfig.CertDir is required (where cert.pem and key.pem are written)")
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8443"
	}
	t := cfg.Tenant
	var err error
	switch {
	case t != nil:
	case cfg.TenantPath != "":
		if t, err = LoadTenant(cfg.TenantPath); err != nil {
			return err
		}
	case cfg.Generate != nil:
		db, err := cvedata.Load()
		if err != nil {
			return fmt.Errorf("falconsim: loading bundled CVE data: %w", err)
		}
		if t, err = Generate(*cfg.Generate, db); err != nil {
			return err
		}
	default:
		return errors.New("falconsim: ServeConfig needs Tenant, TenantPath or Generate")
	}
	db, err := cvedata.Load()
	if err != nil {
		return fmt.Errorf("falconsim: loading bundled CVE data: %w", err)
	}
	if err := t.Resolve(db); err != nil {
		return fmt.Errorf("falconsim: resolving tenant: %w", err)
	}
	srv, err := New(t, cfg.Options)
	if err != nil {
		return err
	}
	cert, certPEM, keyPEM, err := selfSigned()
	if err != nil {
		return fmt.Errorf("falconsim: making certificate: %w", err)
	}
	if err := os.MkdirAll(cfg.CertDir, 0o700); err != nil {
		return fmt.Errorf("falconsim: creating %s: %w", cfg.CertDir, err)
	}
	certFile := filepath.Join(cfg.CertDir, "cert.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return fmt.Errorf("falconsim: writing %s: %w", certFile, err)
	}
	if err := os.WriteFile(filepath.Join(cfg.CertDir, "key.pem"), keyPEM, 0o600); err != nil {
		return fmt.Errorf("falconsim: writing key: %w", err)
	}
	run, err := srv.serveTLS(ctx, cfg.Addr, cert, certPEM)
	if err != nil {
		return err
	}
	run.CertFile = certFile
	id, secret := DemoClientID, DemoClientSecret
	if len(t.Clients) > 0 {
		id, secret = t.Clients[0].ClientID, "<client_secret of "+t.Clients[0].ClientID+" in the tenant file>"
	}
	fmt.Fprintf(cfg.Out, "# Falcon simulator for tenant %s: %d hosts, %d findings\n", t.CID, len(t.Hosts), len(t.Findings))
	for _, kv := range run.Env(id, secret) {
		fmt.Fprintf(cfg.Out, "export %s\n", kv)
	}
	<-ctx.Done()
	run.Close()
	return nil
}
