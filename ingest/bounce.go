package ingest

import (
	"errors"

	"github.com/sobot/ticketmx/store"
)

// autoDeliveryReport is the auto reason of a delivery-status report that
// carries none of the other signals (a multipart/report without its
// report-type, from an ordinary sender).
const autoDeliveryReport = "delivery-status report"

// noDiagnostic is the outbound_error of a reply bounced by a report too
// damaged to give its Status or Diagnostic-Code.
const noDiagnostic = "delivery-status report without Status or Diagnostic-Code"

// bounce is a delivery-status report about one of our stored replies
// (SPEC section 10): the report is appended to the reply's ticket as an
// auto message and, when it tells of a failure, the reply turns bounced.
type bounce struct {
	reply  *store.Message // the reply, direction out
	ticket *store.Ticket  // the reply's ticket
}

// findBounce returns the stored reply of tenant a delivery-status report
// names: by the Message-ID of the message it returns (text/rfc822-headers
// or message/rfc822), else its In-Reply-To or References. A message that
// is not a report, or one naming only received mail, outbound ids
// registered over the admin API or nothing the store knows, has none: it
// threads as any auto message does.
func findBounce(tx store.Tx, tenant string, in *incoming) (*bounce, error) {
	if in.msg == nil || in.msg.Report == nil {
		return nil, nil
	}
	ids := make([]string, 0, len(in.refs)+1)
	if id := in.msg.Report.MessageID; id != "" {
		ids = append(ids, id)
	}
	ids = append(ids, in.refs...)
	for _, id := range ids {
		ref, ok, err := tx.LookupMessageID(tenant, id)
		if err != nil {
			return nil, err
		}
		if !ok || ref.MessageID == "" {
			continue
		}
		m, err := tx.Message(ref.MessageID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m.Direction != store.DirectionOut {
			continue
		}
		tk, err := tx.Ticket(m.TicketID)
		if err != nil {
			return nil, err
		}
		return &bounce{reply: m, ticket: tk}, nil
	}
	return nil, nil
}

// replyTarget is rule 2 for ticketize: the ticket of the reply a
// delivery-status report is about (that ticket, not one that followed it:
// the report is about what was sent there), else findReplyTarget's.
func replyTarget(tx store.Tx, tenant string, in *incoming) (*store.Ticket, *bounce, error) {
	b, err := findBounce(tx, tenant, in)
	if err != nil || b != nil {
		return b.ticketOf(), b, err
	}
	tk, err := findReplyTarget(tx, tenant, in)
	return tk, nil, err
}

func (b *bounce) ticketOf() *store.Ticket {
	if b == nil {
		return nil
	}
	return b.ticket
}

// autoReason is the auto reason of the report: a report is auto-generated
// (SPEC section 2 rule 3) even when it carries no other signal.
func (b *bounce) autoReason(reason string) string {
	if b != nil && reason == "" {
		return autoDeliveryReport
	}
	return reason
}

// apply turns the reply bounced with the report's Status and
// Diagnostic-Code, once the report is stored. A report that tells of a
// delay or a success leaves the reply as it is, and so does a second
// report for a reply already bounced (its first diagnosis stays, and no
// second message.bounced is sent). A reply that is not in the queue
// (ErrNotFound) keeps the report in its ticket all the same: failing the
// delivery would only bring the report back.
func (b *bounce) apply(tx store.Tx, in *incoming) error {
	if b == nil || !in.msg.Report.Failed() || b.reply.OutboundState == store.OutboundBounced {
		return nil
	}
	diag := in.msg.Report.Diagnostic()
	if diag == "" {
		diag = noDiagnostic
	}
	if _, err := tx.BounceOutbound(b.reply.ID, diag); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}
