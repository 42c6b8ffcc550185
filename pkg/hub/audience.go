package hub

import (
	"slices"

	"github.com/hubd/hubd/pkg/msgstore"
)

// audienceOf is the stored audience of a message delivered to `to` (nil:
// not broadcast, only the sender sees it) on behalf of sender ("" for a
// scheduled action). nobody is true when no user would see it: such a
// message is not stored.
func audienceOf(to *target, sender string) (a *msgstore.Audience, nobody bool) {
	switch {
	case to == nil, to.kind == toSender:
		if sender == "" {
			return nil, true
		}
		return &msgstore.Audience{Users: []string{sender}}, false
	case to.kind == toOthers:
		if sender == "" {
			return nil, false
		}
		return &msgstore.Audience{Except: []string{sender}}, false
	case to.kind == toUsers:
		users := slices.Clone(to.users)
		slices.Sort(users)
		users = slices.Compact(users)
		if len(users) == 0 {
			return nil, true
		}
		return &msgstore.Audience{Users: users}, false
	}
	return nil, false
}

// targetOfAudience is the delivery target of a stored message (an
// approved one is delivered as it would have been when sent), with the
// user "others" excludes.
func targetOfAudience(a *msgstore.Audience) (target, string) {
	switch {
	case a == nil:
		return target{kind: toAll}, ""
	case a.Users != nil:
		return target{kind: toUsers, users: a.Users}, ""
	case len(a.Except) == 1:
		return target{kind: toOthers}, a.Except[0]
	}
	// Several excluded users: everyone else by name is not known here;
	// deliver to nobody rather than to an excluded one.
	return target{kind: toUsers}, ""
}
