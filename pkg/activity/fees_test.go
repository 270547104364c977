package activity

import (
	"testing"

	"github.com/ledgersync/ledgersync/pkg/money"
)

func TestSumFeesPerPeriodAndCurrency(t *testing.T) {
	fee := func(id, on, cur, amount, proc, plat string) PaymentFee {
		return PaymentFee{PaymentID: id, PaidOn: on, Currency: cur, Amount: money.MustParse(amount),
			ProcessingFee: money.MustParse(proc), PlatformFee: money.MustParse(plat)}
	}
	fees := []PaymentFee{
		fee("1", "2026-11-02", "USD", "100.10", "3.20", "0.75"), // Monday
		fee("2", "2026-11-08", "USD", "0.20", "0.10", "0.10"),   // Sunday, same ISO week
		fee("3", "2026-11-09", "USD", "50", "1.75", "0"),
		fee("4", "2026-11-09", "EUR", "20", "0.60", "0"),
	}
	weeks, err := SumFees(PeriodWeek, fees)
	if err != nil {
		t.Fatal(err)
	}
	got := [][]string{}
	for _, w := range weeks {
		got = append(got, w.Row())
	}
	want := [][]string{
		{"2026-11-02", "USD", "2", "100.30", "3.30", "0.85", "4.15", "96.15"},
		{"2026-11-09", "EUR", "1", "20.00", "0.60", "0.00", "0.60", "19.40"},
		{"2026-11-09", "USD", "1", "50.00", "1.75", "0.00", "1.75", "48.25"},
	}
	if len(got) != len(want) {
		t.Fatalf("weeks %v, want %v", got, want)
	}
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("week %d = %v, want %v", i, got[i], want[i])
			}
		}
	}
	months, err := SumFees(PeriodMonth, fees)
	if err != nil || len(months) != 2 || months[1].Gross.StringFixed2() != "150.30" {
		t.Fatalf("months %+v (%v)", months, err)
	}
	if _, err := SumFees("year", fees); err == nil {
		t.Fatal("an unknown period was accepted")
	}
	if _, err := SumFees(PeriodDay, []PaymentFee{fee("5", "11/09/2026", "USD", "1", "0", "0")}); err == nil {
		t.Fatal("a payment without a YYYY-MM-DD date was summed")
	}
}
