package quickbooks

// Field tables per entity. A request property outside writable ∪ readOnly
// is answered with 2010 "Request has invalid or unsupported property", as
// QBO's strict deserializer does. readOnly properties are accepted and
// ignored (clients echo whole objects back).

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

var commonReadOnly = []string{"Id", "SyncToken", "MetaData", "domain", "sparse", "status"}

var writableFields = map[string]map[string]bool{
	entCustomer: set("Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "CompanyName", "DisplayName",
		"PrintOnCheckName", "PrimaryEmailAddr", "PrimaryPhone", "Mobile", "AlternatePhone", "Fax", "WebAddr",
		"BillAddr", "ShipAddr", "OtherAddr", "Active", "Job", "BillWithParent", "ParentRef", "Level", "Balance",
		"OpenBalanceDate", "CurrencyRef", "Notes", "Taxable", "DefaultTaxCodeRef", "SalesTermRef", "PaymentMethodRef",
		"PreferredDeliveryMethod", "PrimaryTaxIdentifier", "SecondaryTaxIdentifier", "ResaleNum", "TaxExemptionReasonId",
		"CustomerTypeRef", "ARAccountRef", "GSTIN", "BusinessNumber", "GSTRegistrationType", "IsProject",
		"ClientEntityId", "Source", "ContactName", "AltContactName"),
	entItem: set("Name", "Sku", "Description", "Active", "SubItem", "ParentRef", "Level", "Type", "UnitPrice",
		"RatePercent", "PurchaseCost", "PurchaseDesc", "Taxable", "SalesTaxIncluded", "PurchaseTaxIncluded",
		"SalesTaxCodeRef", "PurchaseTaxCodeRef", "IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef",
		"TrackQtyOnHand", "QtyOnHand", "InvStartDate", "ReorderPoint", "PrefVendorRef", "ClassRef",
		"TaxClassificationRef", "AbatementRate", "ReverseChargeRate", "ServiceType", "ItemCategoryType",
		"UQCDisplayText", "UQCId", "Source"),
	entInvoice: set("DocNumber", "TxnDate", "DueDate", "CustomerRef", "CurrencyRef", "ExchangeRate", "PrivateNote",
		"CustomerMemo", "BillAddr", "ShipAddr", "ShipFromAddr", "BillEmail", "BillEmailCc", "BillEmailBcc",
		"SalesTermRef", "ClassRef", "DepartmentRef", "ProjectRef", "CustomField", "Line", "TxnTaxDetail",
		"GlobalTaxCalculation", "ApplyTaxAfterDiscount", "PrintStatus", "EmailStatus", "AllowOnlineCreditCardPayment",
		"AllowOnlineACHPayment", "AllowIPNPayment", "AllowOnlinePayment", "Deposit", "DepositToAccountRef",
		"ShipDate", "TrackingNum", "ShipMethodRef", "TxnSource", "TransactionLocationType", "TaxExemptionRef",
		"FreeFormAddress"),
	entCreditMemo: set("DocNumber", "TxnDate", "CustomerRef", "CurrencyRef", "ExchangeRate", "PrivateNote",
		"CustomerMemo", "BillAddr", "ShipAddr", "BillEmail", "ClassRef", "DepartmentRef", "ProjectRef", "CustomField",
		"Line", "TxnTaxDetail", "GlobalTaxCalculation", "ApplyTaxAfterDiscount", "PrintStatus", "EmailStatus",
		"TxnSource", "TransactionLocationType"),
	entPayment: set("TotalAmt", "CustomerRef", "TxnDate", "PaymentRefNum", "PaymentMethodRef", "DepositToAccountRef",
		"PrivateNote", "CurrencyRef", "ExchangeRate", "ProcessPayment", "CreditCardPayment", "TxnSource", "Line",
		"ARAccountRef", "TransactionLocationType", "ProjectRef"),
	entAccount: set("Name", "AcctNum", "AccountType", "AccountSubType", "Classification", "Description", "Active",
		"SubAccount", "ParentRef", "CurrencyRef", "TaxCodeRef", "OpeningBalance", "OpeningBalanceDate",
		"AccountAlias", "TxnLocationType"),
	entCompanyInfo: set("CompanyName", "LegalName", "CompanyAddr", "CustomerCommunicationAddr", "LegalAddr",
		"PrimaryPhone", "Email", "WebAddr", "FiscalYearStartMonth", "SupportedLanguages", "NameValue",
		"CompanyStartDate", "CustomerCommunicationEmailAddr", "OtherContactInfo"),
	entPreferences: set("AccountingInfoPrefs", "ProductAndServicesPrefs", "SalesFormsPrefs", "VendorAndPurchasesPrefs",
		"TimeTrackingPrefs", "TaxPrefs", "CurrencyPrefs", "ReportPrefs", "OtherPrefs", "EmailMessagesPrefs"),
	entTaxCode: set(),
}

var readOnlyFields = map[string]map[string]bool{
	entCustomer:    set(append([]string{"FullyQualifiedName", "BalanceWithJobs", "V4IDPseudonym"}, commonReadOnly...)...),
	entItem:        set(append([]string{"FullyQualifiedName"}, commonReadOnly...)...),
	entInvoice:     set(append([]string{"TotalAmt", "HomeTotalAmt", "Balance", "HomeBalance", "LinkedTxn", "InvoiceLink"}, commonReadOnly...)...),
	entPayment:     set(append([]string{"UnappliedAmt"}, commonReadOnly...)...),
	entCreditMemo:  set(append([]string{"TotalAmt", "HomeTotalAmt", "Balance", "RemainingCredit", "LinkedTxn"}, commonReadOnly...)...),
	entAccount:     set(append([]string{"FullyQualifiedName", "CurrentBalance", "CurrentBalanceWithSubAccounts"}, commonReadOnly...)...),
	entCompanyInfo: set(append([]string{"Country"}, commonReadOnly...)...),
	entPreferences: set(commonReadOnly...),
	entTaxCode:     set(commonReadOnly...),
}

// queryableFields lists, per entity, the properties allowed in WHERE and
// ORDERBY (roughly the "filterable" columns of the QBO reference).
var queryableFields = map[string]map[string]bool{
	entCustomer: set("Id", "DisplayName", "GivenName", "MiddleName", "FamilyName", "CompanyName", "FullyQualifiedName",
		"PrimaryEmailAddr", "Active", "Balance", "Job", "ParentRef", "PrintOnCheckName", "MetaData.CreateTime", "MetaData.LastUpdatedTime"),
	entItem: set("Id", "Name", "Sku", "Type", "Active", "FullyQualifiedName", "UnitPrice", "Taxable", "ParentRef",
		"MetaData.CreateTime", "MetaData.LastUpdatedTime"),
	entInvoice: set("Id", "DocNumber", "TxnDate", "DueDate", "CustomerRef", "TotalAmt", "Balance", "EmailStatus",
		"PrintStatus", "MetaData.CreateTime", "MetaData.LastUpdatedTime"),
	entPayment: set("Id", "TxnDate", "CustomerRef", "TotalAmt", "UnappliedAmt", "PaymentRefNum",
		"MetaData.CreateTime", "MetaData.LastUpdatedTime"),
	entCreditMemo: set("Id", "DocNumber", "TxnDate", "CustomerRef", "TotalAmt", "Balance", "RemainingCredit",
		"MetaData.CreateTime", "MetaData.LastUpdatedTime"),
	entAccount: set("Id", "Name", "AccountType", "AccountSubType", "Classification", "Active", "AcctNum",
		"FullyQualifiedName", "CurrentBalance", "MetaData.CreateTime", "MetaData.LastUpdatedTime"),
	entTaxCode:     set("Id", "Name", "Active", "Taxable", "MetaData.CreateTime", "MetaData.LastUpdatedTime"),
	entCompanyInfo: set("Id", "CompanyName", "Country", "MetaData.CreateTime", "MetaData.LastUpdatedTime"),
	entPreferences: set("Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime"),
}

// checkFields rejects unknown top-level properties.
func checkFields(entity string, in map[string]any) *fault {
	w, ro := writableFields[entity], readOnlyFields[entity]
	for k := range in {
		if !w[k] && !ro[k] {
			return faultBadProperty(k)
		}
	}
	return nil
}
