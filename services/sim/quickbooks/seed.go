package quickbooks

import (
	"fmt"
	"time"
)

// taxCodeDef is a sales tax code of a non-US company (rate in percent).
type taxCodeDef struct {
	name string
	rate float64
}

// countryTaxCodes lists the tax codes a new company of that country has.
func countryTaxCodes(country string) []taxCodeDef {
	switch country {
	case "US":
		return nil
	case "GB", "UK", "IE":
		return []taxCodeDef{{"20.0% S", 20}, {"5.0% R", 5}, {"0.0% Z", 0}, {"Exempt", 0}}
	case "CA":
		return []taxCodeDef{{"GST", 5}, {"HST ON", 13}, {"Zero-rated", 0}, {"Exempt", 0}}
	case "AU":
		return []taxCodeDef{{"GST", 10}, {"GST free", 0}}
	}
	return []taxCodeDef{{"Standard", 20}, {"Reduced", 10}, {"Zero", 0}}
}

// seedRealm writes the data every company has, then the chosen seed.
func (s *Server) seedRealm(rm *realm, country string, mode SeedMode) error {
	now := s.now()
	ts := qboTime(now)
	md := func() map[string]any { return map[string]any{"CreateTime": ts, "LastUpdatedTime": ts} }
	companyName := "Sim Company " + rm.id
	if mode == SeedDemo {
		companyName = "Larkspur Landscaping & Supply"
	}
	rm.put(entCompanyInfo, "1", map[string]any{
		"Id": "1", "SyncToken": "0", "domain": "QBO", "sparse": false, "MetaData": md(),
		"CompanyName": companyName, "LegalName": companyName, "Country": country,
		"CompanyAddr":          map[string]any{"Id": "1", "Line1": "2600 Marine Way", "City": "Mountain View", "CountrySubDivisionCode": "CA", "PostalCode": "94043", "Country": country},
		"Email":                map[string]any{"Address": "office@example.com"},
		"FiscalYearStartMonth": "January", "SupportedLanguages": "en", "CompanyStartDate": qboDate(now.AddDate(-2, 0, 0)),
		"NameValue": []any{
			map[string]any{"Name": "NeoEnabled", "Value": "true"},
			map[string]any{"Name": "ItemCategoriesFeature", "Value": "false"},
			map[string]any{"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
		},
	}, now)
	slot1 := mode == SeedDemo
	rm.put(entPreferences, "1", map[string]any{
		"Id": "1", "SyncToken": "0", "domain": "QBO", "sparse": false, "MetaData": md(),
		"AccountingInfoPrefs":     map[string]any{"TrackDepartments": false, "ClassTrackingPerTxn": false, "CustomerTerminology": "Customers"},
		"ProductAndServicesPrefs": map[string]any{"ForSales": true, "ForPurchase": true, "QuantityWithPriceAndRate": true, "QuantityOnHand": true},
		"SalesFormsPrefs": map[string]any{
			"CustomField": []any{
				map[string]any{"CustomField": []any{
					map[string]any{"Name": "SalesFormsPrefs.UseSalesCustom1", "Type": "BooleanType", "BooleanValue": slot1},
					map[string]any{"Name": "SalesFormsPrefs.UseSalesCustom2", "Type": "BooleanType", "BooleanValue": false},
					map[string]any{"Name": "SalesFormsPrefs.UseSalesCustom3", "Type": "BooleanType", "BooleanValue": false},
				}},
				map[string]any{"CustomField": []any{
					map[string]any{"Name": "SalesFormsPrefs.SalesCustomName1", "Type": "StringType", "StringValue": "Crew #"},
				}},
			},
			"CustomTxnNumbers": s.cfg.CustomTxnNumbers.On(), "AllowDeposit": false, "AllowDiscount": true, "AllowShipping": false,
			"DefaultTerms": map[string]any{"value": "3"}, "ETransactionEnabledStatus": "NotApplicable", "AllowServiceDate": false,
			"AllowEstimates": true, "UsingPriceLevels": false,
		},
		"TaxPrefs":      map[string]any{"UsingSalesTax": true, "PartnerTaxEnabled": country == "US"},
		"CurrencyPrefs": map[string]any{"MultiCurrencyEnabled": false, "HomeCurrency": map[string]any{"value": "USD"}},
		"OtherPrefs":    map[string]any{"NameValue": []any{map[string]any{"Name": "SalesFormsPrefs.DefaultCustomerMessage", "Value": "Thank you for your business."}}},
	}, now)
	rm.addTaxCodes(country, now)

	oc := &opCtx{now: now}
	mk := func(entity string, obj map[string]any) (string, error) {
		res, f := rm.create(entity, obj, oc)
		if f != nil {
			return "", fmt.Errorf("%s %v: %w", entity, obj["Name"], f)
		}
		return str(res["Id"]), nil
	}
	accounts := []map[string]any{
		{"Name": "Services", "AccountType": "Income", "AccountSubType": "ServiceFeeIncome"},
		{"Name": "Sales of Product Income", "AccountType": "Income", "AccountSubType": "SalesOfProductIncome"},
		{"Name": "Accounts Receivable (A/R)", "AccountType": "Accounts Receivable", "AccountSubType": "AccountsReceivable"},
		{"Name": "Undeposited Funds", "AccountType": "Other Current Asset", "AccountSubType": "UndepositedFunds"},
		{"Name": "Checking", "AccountType": "Bank", "AccountSubType": "Checking"},
		{"Name": "Cost of Goods Sold", "AccountType": "Cost of Goods Sold", "AccountSubType": "SuppliesMaterialsCogs"},
		{"Name": "Inventory Asset", "AccountType": "Other Current Asset", "AccountSubType": "Inventory"},
	}
	accID := map[string]string{}
	for _, a := range accounts {
		id, err := mk(entAccount, a)
		if err != nil {
			return err
		}
		accID[str(a["Name"])] = id
	}
	rm.undeposited = accID["Undeposited Funds"]
	for _, it := range []map[string]any{
		{"Name": "Services", "Type": "Service", "IncomeAccountRef": ref(accID["Services"], "")},
		{"Name": "Hours", "Type": "Service", "IncomeAccountRef": ref(accID["Services"], "")},
	} {
		if _, err := mk(entItem, it); err != nil {
			return err
		}
	}
	if mode == SeedDemo {
		return s.seedDemo(rm, accID, mk)
	}
	return nil
}

// addTaxCodes creates the country's tax codes that are missing (US: TAX and NON).
func (rm *realm) addTaxCodes(country string, now time.Time) {
	ts := qboTime(now)
	mkCode := func(id, name string, taxable bool, rate float64) {
		if _, ok := rm.get(entTaxCode, id); ok {
			return
		}
		for _, rec := range rm.data[entTaxCode].recs {
			if str(rec.obj["Name"]) == name {
				return
			}
		}
		obj := map[string]any{"Id": id, "SyncToken": "0", "domain": "QBO", "sparse": false,
			"MetaData": map[string]any{"CreateTime": ts, "LastUpdatedTime": ts},
			"Name":     name, "Description": name, "Active": true, "Hidden": false, "Taxable": taxable, "TaxGroup": false,
			"SalesTaxRateList":    map[string]any{"TaxRateDetail": []any{}},
			"PurchaseTaxRateList": map[string]any{"TaxRateDetail": []any{}},
		}
		if country != "US" {
			obj["SalesTaxRateList"] = map[string]any{"TaxRateDetail": []any{map[string]any{
				"TaxRateRef": map[string]any{"value": id, "name": name}, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0.0}}}
			rm.taxRates[id] = rate
		}
		rm.put(entTaxCode, id, obj, now)
	}
	if country == "US" {
		mkCode("TAX", "TAX", true, 0)
		mkCode("NON", "NON", false, 0)
		return
	}
	for _, d := range countryTaxCodes(country) {
		mkCode(rm.nextID(entTaxCode), d.name, d.rate > 0, d.rate)
	}
}
