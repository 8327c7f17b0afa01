package governance

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// HashToken returns the hex SHA-256 of a bearer token: what the
// configuration stores instead of the token.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// NewToken returns a fresh random bearer token (256 bits, URL-safe).
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "vp_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// TokenEntry is one configured token: its owner, role and hash.
type TokenEntry struct {
	Name   string
	Role   string
	SHA256 string // hex
}

// Tokens authenticates bearer tokens against stored hashes. It never holds
// a token, only hashes.
type Tokens struct {
	entries []tokenRec
}

type tokenRec struct {
	hash [sha256.Size]byte
	id   Identity
}

// NewTokens checks every entry (hash format, role exists, no duplicate
// hash) and binds it to an identity. Errors name the entry by index and
// owner, never by hash.
func NewTokens(roles *Roles, entries []TokenEntry) (*Tokens, error) {
	t := &Tokens{}
	var errs []error
	seen := map[[sha256.Size]byte]int{}
	for i, e := range entries {
		field := fmt.Sprintf("tokens[%d] (%s)", i, e.Name)
		raw, err := hex.DecodeString(strings.ToLower(strings.TrimSpace(e.SHA256)))
		if err != nil || len(raw) != sha256.Size {
			errs = append(errs, fmt.Errorf("%s: sha256 must be 64 hex digits (vulnpilot serve --hash-token prints one)", field))
			continue
		}
		var h [sha256.Size]byte
		copy(h[:], raw)
		if j, dup := seen[h]; dup {
			errs = append(errs, fmt.Errorf("%s: same token hash as tokens[%d]", field, j))
			continue
		}
		seen[h] = i
		id, err := roles.Identity(e.Name, e.Role, "bearer")
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			continue
		}
		t.entries = append(t.entries, tokenRec{hash: h, id: id})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// Len is the number of configured tokens.
func (t *Tokens) Len() int { return len(t.entries) }

// Authenticate returns the identity of token. Every entry is compared in
// constant time, and the loop does not stop at a match, so timing reveals
// neither which entry matched nor how much of a hash did.
func (t *Tokens) Authenticate(token string) (Identity, bool) {
	if token == "" {
		return Identity{}, false
	}
	h := sha256.Sum256([]byte(token))
	var found Identity
	ok := 0
	for i := range t.entries {
		if subtle.ConstantTimeCompare(h[:], t.entries[i].hash[:]) == 1 {
			found = t.entries[i].id
			ok = 1
		}
	}
	return found, ok == 1
}
