// Package tokens keeps OAuth tokens of every connection in the tokens KV
// bucket, encrypted with AES-GCM, and hands out oauth2.TokenSources that
// refresh them before they expire: one replica wins each refresh under
// compare-and-set, and a rotated refresh token is saved before the new
// access token is used. When the other side refuses the refresh the
// connection is marked "needs reconnect" and callers get a coded error
// instead of failing records one by one.
package tokens

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/config"
)

// KeyConfig is the encryption key block.
type KeyConfig struct {
	// Key is 32 bytes, base64 (std or url) or hex encoded. Generate one with
	// `openssl rand -base64 32`.
	Key config.Secret `env:"SYNC_TOKEN_KEY, required"`
	// PreviousKeys (comma separated) still decrypt during a key rotation;
	// everything written is encrypted with Key.
	PreviousKeys config.Secret `env:"SYNC_TOKEN_KEY_PREVIOUS"`
}

// Validate checks the keys decode to 32 bytes.
func (k *KeyConfig) Validate() []config.Problem {
	var p []config.Problem
	if k.Key.IsSet() {
		if _, err := decodeKey(k.Key.Reveal()); err != nil {
			p = append(p, config.Problem{Variable: "SYNC_TOKEN_KEY", Reason: err.Error()})
		}
	}
	for _, old := range splitKeys(k.PreviousKeys.Reveal()) {
		if _, err := decodeKey(old); err != nil {
			p = append(p, config.Problem{Variable: "SYNC_TOKEN_KEY_PREVIOUS", Reason: err.Error()})
		}
	}
	return p
}

// Crypter seals and opens token records. Sealed values start with the first
// 8 hex digits of the key's SHA-256, so the right key is picked after a
// rotation.
type Crypter struct {
	primary keyed
	all     map[string]cipher.AEAD
}

type keyed struct {
	id   string
	aead cipher.AEAD
}

// NewCrypter builds a crypter from the key block.
func NewCrypter(k KeyConfig) (*Crypter, error) {
	c := &Crypter{all: map[string]cipher.AEAD{}}
	keys := append([]string{k.Key.Reveal()}, splitKeys(k.PreviousKeys.Reveal())...)
	for i, enc := range keys {
		raw, err := decodeKey(enc)
		if err != nil {
			return nil, fmt.Errorf("token key %d: %w", i, err)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		id := hex.EncodeToString(sum[:4])
		c.all[id] = aead
		if i == 0 {
			c.primary = keyed{id: id, aead: aead}
		}
	}
	return c, nil
}

// Seal encrypts plaintext; aad binds it to its KV key so a value copied to
// another connection's key does not open.
func (c *Crypter) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, c.primary.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	out := append([]byte(c.primary.id+":"), nonce...)
	return c.primary.aead.Seal(out, nonce, plaintext, aad)
}

// ErrUndecryptable means no configured key opens the value.
var ErrUndecryptable = errors.New("token record cannot be decrypted with SYNC_TOKEN_KEY or SYNC_TOKEN_KEY_PREVIOUS")

// Open decrypts a value sealed by Seal with any configured key.
func (c *Crypter) Open(sealed, aad []byte) ([]byte, error) {
	id, rest, ok := strings.Cut(string(sealed), ":")
	if !ok {
		return nil, ErrUndecryptable
	}
	aead, ok := c.all[id]
	if !ok || len(rest) < aead.NonceSize() {
		return nil, ErrUndecryptable
	}
	body := []byte(rest)
	plain, err := aead.Open(nil, body[:aead.NonceSize()], body[aead.NonceSize():], aad)
	if err != nil {
		return nil, ErrUndecryptable
	}
	return plain, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("must be 32 bytes, base64 or hex encoded (openssl rand -base64 32)")
}

func splitKeys(s string) []string {
	var out []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}
