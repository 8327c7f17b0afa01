package falconsim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

type tokenInfo struct {
	client    string
	scopes    map[string]bool
	expires   time.Time
	memberCID string
}

// Falcon's token endpoint answers bad credentials with 403 and this text
// (the API gateway, not the service, writes it).
const msgBadClient = "Failed to issue access token - Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method)"

// handleToken implements POST /oauth2/token (client_credentials). Falcon
// takes client_id/client_secret in the form body; HTTP Basic is accepted too
// because x/oauth2 tries it first.
func (s *Server) handleToken(c *call) {
	r := c.r
	if err := r.ParseForm(); err != nil {
		c.gatewayError(http.StatusBadRequest, "invalid form body: "+err.Error())
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && id == "" {
		id, secret = u, p
	}
	if gt := r.PostForm.Get("grant_type"); gt != "" && gt != "client_credentials" {
		c.gatewayError(http.StatusBadRequest, "unsupported grant_type "+quoteForMsg(gt)+"; only client_credentials is supported")
		return
	}
	cl, ok := s.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(cl.ClientSecret), []byte(secret)) != 1 {
		s.log.Info("falconsim: token refused", "client_id", id)
		c.gatewayError(http.StatusForbidden, msgBadClient)
		return
	}
	member := r.PostForm.Get("member_cid")
	if member != "" && !strings.EqualFold(member, c.snap.cid) {
		c.gatewayError(http.StatusForbidden, "Failed to issue access token - member_cid is not a child of this client's CID")
		return
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		c.gatewayError(http.StatusInternalServerError, "token generation failed")
		return
	}
	tok := hex.EncodeToString(raw[:])
	info := &tokenInfo{client: id, scopes: map[string]bool{}, expires: s.clock().Add(s.tokenTTL), memberCID: member}
	for _, sc := range cl.Scopes {
		info.scopes[sc] = true
	}
	s.tokMu.Lock()
	now := s.clock()
	for k, t := range s.tokens { // keep the table bounded by dropping expired tokens
		if now.After(t.expires) {
			delete(s.tokens, k)
		}
	}
	s.tokens[tok] = info
	s.tokMu.Unlock()
	s.addStat(func(st *Stats) { st.TokensIssued++ })
	s.log.Info("falconsim: token issued", "client_id", id)

	o := beginObj(nil)
	o.str("access_token", tok)
	o.str("token_type", "bearer")
	o.int("expires_in", int64(s.tokenTTL/time.Second))
	body := o.end()
	c.w.Header().Set("Content-Type", "application/json")
	c.w.Header().Set("X-Cs-Traceid", s.traceID())
	c.w.WriteHeader(http.StatusCreated)
	_, _ = c.w.Write(body)
}

// handleRevoke implements POST /oauth2/revoke: Basic auth with the client's
// credentials, form field token. Revoking an unknown token succeeds, as in
// Falcon.
func (s *Server) handleRevoke(c *call) {
	r := c.r
	if err := r.ParseForm(); err != nil {
		c.gatewayError(http.StatusBadRequest, "invalid form body: "+err.Error())
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	cl, known := s.clients[id]
	if !known || subtle.ConstantTimeCompare([]byte(cl.ClientSecret), []byte(secret)) != 1 {
		c.gatewayError(http.StatusForbidden, "access denied, invalid client credentials")
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		c.gatewayError(http.StatusBadRequest, "form field token is required")
		return
	}
	s.tokMu.Lock()
	if t, ok := s.tokens[tok]; ok && t.client == id {
		delete(s.tokens, tok)
		s.addStat(func(st *Stats) { st.TokensRevoked++ })
	}
	s.tokMu.Unlock()
	c.reply(http.StatusOK, nil, nil, nil, nil)
}

// authenticate checks the bearer token; false means a 401 was written.
func (c *call) authenticate() bool {
	h := c.r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "bearer ")
	}
	if ok {
		c.s.tokMu.Lock()
		info := c.s.tokens[strings.TrimSpace(tok)]
		if info != nil && c.s.clock().After(info.expires) {
			delete(c.s.tokens, tok)
			info = nil
		}
		c.s.tokMu.Unlock()
		if info != nil {
			c.token, c.client = info, info.client
			return true
		}
	}
	c.gatewayError(http.StatusUnauthorized, "access denied, invalid bearer token")
	return false
}

// bucket is a per-client token bucket refilled continuously.
type bucket struct {
	tokens float64
	last   time.Time
}

// charge takes one request from client's bucket. It returns the requests
// left, and when the bucket has a token again if it is empty.
func (s *Server) charge(client string) (remaining int, retryAt time.Time, ok bool) {
	now := s.clock()
	capacity := float64(s.rateLimit)
	perSec := capacity / 60
	s.bucketMu.Lock()
	defer s.bucketMu.Unlock()
	b := s.buckets[client]
	if b == nil {
		b = &bucket{tokens: capacity, last: now}
		s.buckets[client] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(capacity, b.tokens+el*perSec)
		b.last = now
	}
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) / perSec * float64(time.Second))
		return 0, now.Add(wait).Add(time.Second - 1).Truncate(time.Second), false
	}
	b.tokens--
	return int(b.tokens), time.Time{}, true
}

// quoteForMsg quotes an untrusted value for an error message, bounded.
func quoteForMsg(v string) string {
	if len(v) > 80 {
		v = v[:80] + "..."
	}
	return string(appendJSONString(nil, v))
}
