package syncerr

// Category explains a failure code to the person looking at a failed
// record (P22): what happened, in plain words, and what to do next.
type Category struct {
	Code        Code   `json:"code"`
	Title       string `json:"title"`
	Explanation string `json:"explanation"`
	NextStep    string `json:"next_step"`
}

// categories lists every failure code the sync records.
var categories = []Category{
	{"QBO_DUPLICATE_NAME", "Duplicate display name",
		"QuickBooks needs every customer, vendor and employee to have its own display name, and another one already has this name (often a second contact of the same company).",
		"Rename one of them in QuickBooks or HubSpot, or switch off the company-name rule in the contact settings, then resync the record."},
	{"QBO_DUPLICATE_DOC_NUMBER", "Invoice number already used",
		"QuickBooks already has an invoice with this number.",
		"Change the invoice prefix in the invoice settings or the number in HubSpot, then resync."},
	{"TAX_REQUIRED", "Tax required",
		"This QuickBooks company is outside the US and wants tax on every invoice line; HubSpot invoices carry no tax.",
		"Create such invoices in QuickBooks and let them sync to HubSpot, or keep the invoice sync QuickBooks -> HubSpot."},
	{"QBO_STALE_OBJECT", "Changed at the same time",
		"The record changed in QuickBooks while the sync was writing it.",
		"Nothing: the sync reads it again and retries. If it stays, resync the record."},
	{"INVOICE_EDIT_NOT_ALLOWED", "Edit not allowed on a HubSpot invoice",
		"This invoice was made in HubSpot, and QuickBooks got an edit HubSpot cannot show (lines added or removed, a new price, a removed payment or added tax).",
		"Undo that edit in QuickBooks, or make the change in HubSpot; the invoice then syncs again."},
	{"DEPENDENCY_MISSING", "Waiting for a related record",
		"The invoice or payment needs its customer, products or invoice on the other side first, and they have not synced.",
		"Check why the related record does not sync (its filters, direction or own failure); this one follows once it has."},
	{"RATE_LIMITED", "Rate limited",
		"HubSpot or QuickBooks asked the sync to slow down.",
		"Nothing: the sync waits as asked and retries. A daily HubSpot limit resets at midnight UTC."},
	{"AUTH_EXPIRED", "Authorisation expired",
		"HubSpot or QuickBooks no longer accepts the connection's sign-in.",
		"Reconnect the account on the connection page; waiting records then continue."},
	{"CONNECTION_NEEDS_RECONNECT", "Connection needs reconnecting",
		"The account refused to renew the connection's access (revoked or expired).",
		"Reconnect the account on the connection page; records wait meanwhile and are not lost."},
	{"CONNECTION_UNKNOWN", "Connection deleted",
		"The connection this record belonged to no longer exists.",
		"Nothing, unless the connection was deleted by mistake: create it again and run its first sync."},
	{"CONNECTION_SETTINGS_BEHIND", "Settings not yet seen",
		"The record was read under connection settings this service has not received yet (its copy of the settings lags behind).",
		"Nothing: it is retried until the service has the settings. If it stays, check that the service reaches NATS."},
	{"QBO_FORBIDDEN", "No permission in QuickBooks",
		"The QuickBooks user that connected may not do this (for example a user without accounting rights).",
		"Reconnect with a QuickBooks admin user."},
	{"HS_FORBIDDEN", "No permission in HubSpot",
		"The HubSpot app or token lacks a scope this record needs.",
		"Reconnect HubSpot granting the scopes the app asks for, or add them to the private app."},
	{"QBO_NOT_FOUND", "Gone in QuickBooks",
		"The linked QuickBooks record was deleted or made inactive.",
		"Restore it in QuickBooks, or resync the HubSpot record to create it again."},
	{"HS_NOT_FOUND", "Gone in HubSpot",
		"The linked HubSpot record was deleted.",
		"Restore it from HubSpot's recycle bin, or resync the QuickBooks record to create it again."},
	{"HS_CONFLICT", "Conflict in HubSpot",
		"HubSpot refused the write because of a value another record holds (such as an email).",
		"Merge or fix the duplicate in HubSpot, then resync."},
	{"HS_REJECTED", "Refused by HubSpot",
		"HubSpot refused a value of this record.",
		"Read the message, fix the value at the source or in the field mapping, then resync."},
	{"HS_WRITE_UNCONFIRMED", "Write not confirmed",
		"HubSpot did not answer a write in time; the sync checks whether it happened before trying again.",
		"Nothing: it retries without making duplicates."},
	{"MAPPING_TYPE", "Value does not fit its mapping",
		"A mapped field holds a value of the wrong type (text in a number field, a bad date).",
		"Fix the value at the source, or change the mapping's type in the settings, then resync."},
	{"QBO_FIELD_NOT_SUPPORTED", "QuickBooks field not supported",
		"A mapping writes a QuickBooks field this version cannot write.",
		"Remove or change that mapping in the settings."},
	{"QBO_NO_INCOME_ACCOUNT", "No income account",
		"Items and the Custom line item need an income account, and none was found or chosen.",
		"Choose an income account in the product or invoice settings."},
	{"OBJECT_NOT_SUPPORTED", "Not synced by this version",
		"This kind of record is not synced in this direction by this version.",
		"Change the object's direction in the settings."},
	{"VALIDATION", "Refused as invalid",
		"HubSpot or QuickBooks found a value of this record invalid.",
		"Read the message, fix the value at the source, then resync."},
	{"UNAVAILABLE", "Service unavailable",
		"HubSpot, QuickBooks or one of the sync's own services did not answer.",
		"Nothing: the sync retries. If it stays, check the service status pages and the sync's health page."},
	{"TIMEOUT", "Timed out",
		"A call took too long.",
		"Nothing: the sync retries."},
	{"STOPPING", "Handed back at shutdown",
		"A service was stopping (a deploy or a scale-down) before it could make this call; the record went back to its stream.",
		"Nothing: another replica, or the same one after its restart, syncs it."},
	{"BAD_MESSAGE", "Unreadable message",
		"A message between the sync's services could not be read (a version mismatch or a bug).",
		"Report it with the record's timeline; the record can be resynced once fixed."},
	{"INTERNAL", "Internal error",
		"The sync failed in a way it did not expect.",
		"Report it with the record's timeline; resync the record."},
	{"HANDLER_CRASHED", "Internal error",
		"The sync failed in a way it did not expect.",
		"Report it with the record's timeline; resync the record."},
	{"HANDLER_PANIC", "Internal error",
		"The sync failed in a way it did not expect.",
		"Report it with the record's timeline; resync the record."},
	{"CAS_CONFLICT", "Changed at the same time",
		"Two of the sync's workers changed the same link at once.",
		"Nothing: it retries."},
	{"WEBHOOK_SIGNATURE_INVALID", "Webhook refused",
		"A webhook came without a valid signature and was not processed.",
		"Check the webhook secret or verifier token in the settings; the safety-net poller catches up meanwhile."},
}

// CategoryOf explains code; unknown codes get a general explanation.
func CategoryOf(code Code) Category {
	for _, c := range categories {
		if c.Code == code {
			return c
		}
	}
	return Category{Code: code, Title: string(code), Explanation: "The sync recorded this failure with the message shown.",
		NextStep: "Read the message; fix the cause, then resync the record."}
}

// Categories lists every known category.
func Categories() []Category { return append([]Category(nil), categories...) }
