package discord

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// How an account id names what Keycard holds for a person who has no
// Discord user id in HR yet. Discord keeps no record of whom an invite is
// for, so the id carries what Find needs to recognise the invite later
// without keeping its code (the code is the invite: anyone holding it can
// join): when it expires, and an HMAC of the code under the bot token.
const (
	invitePrefix = "invite:" // an invite sent, not used yet when last seen
	joinedPrefix = "joined:" // the invite was used before it expired: the person joined
)

// inviteRef is a decoded invite or joined account id.
type inviteRef struct {
	joined  bool
	expires time.Time // zero: never
	digest  string
}

func (r inviteRef) id() string {
	p := invitePrefix
	if r.joined {
		p = joinedPrefix
	}
	var exp int64
	if !r.expires.IsZero() {
		exp = r.expires.Unix()
	}
	return p + strconv.FormatInt(exp, 10) + ":" + r.digest
}

// expired reports whether the invite could no longer be used at now.
func (r inviteRef) expired(now time.Time) bool { return !r.expires.IsZero() && !now.Before(r.expires) }

// parseInviteRef reads an invite or joined account id.
func parseInviteRef(id string) (inviteRef, bool) {
	var r inviteRef
	rest, ok := strings.CutPrefix(id, invitePrefix)
	if !ok {
		if rest, ok = strings.CutPrefix(id, joinedPrefix); !ok {
			return r, false
		}
		r.joined = true
	}
	exp, digest, ok := strings.Cut(rest, ":")
	n, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || n < 0 || len(digest) != digestLen || strings.Trim(digest, "0123456789abcdef") != "" {
		return inviteRef{}, false
	}
	if n > 0 {
		r.expires = time.Unix(n, 0)
	}
	r.digest = digest
	return r, true
}

// digestLen is how many hex digits of the HMAC an id keeps.
const digestLen = 20

// inviteDigest is the invite's fingerprint: HMAC-SHA256 of the guild and
// code under the bot token, so the stored id reveals nothing of the code
// to whoever reads Keycard's store without the token.
func inviteDigest(token, guildID, code string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(guildID + "/" + code))
	return hex.EncodeToString(m.Sum(nil))[:digestLen]
}
