package app_test

import (
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app"
)

func dayApp(t *testing.T, zone string) *app.App {
	t.Helper()
	a := &app.App{DayTimezone: zone}
	if err := a.SetDefaults(); err != nil {
		t.Fatal(err)
	}
	return a
}

func mustLoad(t *testing.T, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Day names the allowance day in the configured zone and says exactly when
// the next one begins, including on the 23- and 25-hour days of a DST change
// and where the clocks jump at midnight, so that midnight never happens.
func TestDay(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	scl := mustLoad(t, "America/Santiago")
	hav := mustLoad(t, "America/Havana")
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name    string
		zone    string
		at      time.Time
		day     string
		next    time.Time
		dayLong time.Duration // length of the day, when checked
	}{
		// New York (the default zone): spring forward on 2024-03-10 at 02:00.
		{"NY ordinary evening", "America/New_York", time.Date(2024, 3, 9, 23, 30, 0, 0, ny), "2024-03-09", utc("2024-03-10T05:00:00Z"), 24 * time.Hour},
		{"NY spring-forward day", "America/New_York", time.Date(2024, 3, 10, 12, 0, 0, 0, ny), "2024-03-10", utc("2024-03-11T04:00:00Z"), 23 * time.Hour},
		{"NY in the skipped hour's place", "America/New_York", utc("2024-03-10T07:00:00Z"), "2024-03-10", utc("2024-03-11T04:00:00Z"), 23 * time.Hour},
		// Fall back on 2024-11-03 at 02:00: 01:30 happens twice, same day.
		{"NY fall-back, first 01:30", "America/New_York", utc("2024-11-03T05:30:00Z"), "2024-11-03", utc("2024-11-04T05:00:00Z"), 25 * time.Hour},
		{"NY fall-back, second 01:30", "America/New_York", utc("2024-11-03T06:30:00Z"), "2024-11-03", utc("2024-11-04T05:00:00Z"), 25 * time.Hour},
		{"NY last nanosecond of a day", "America/New_York", utc("2024-07-01T03:59:59.999999999Z"), "2024-06-30", utc("2024-07-01T04:00:00Z"), 24 * time.Hour},
		{"NY first instant of a day", "America/New_York", utc("2024-07-01T04:00:00Z"), "2024-07-01", utc("2024-07-02T04:00:00Z"), 24 * time.Hour},
		{"NY, input in another zone", "America/New_York", time.Date(2024, 7, 1, 6, 0, 0, 0, mustLoad(t, "Europe/Paris")), "2024-07-01", utc("2024-07-02T04:00:00Z"), 24 * time.Hour},

		// Santiago: on 2024-09-08 the clocks jump from 24:00 (-04) to 01:00
		// (-03), so 2024-09-08 begins at 04:00Z, its "01:00".
		{"Santiago before a missing midnight", "America/Santiago", time.Date(2024, 9, 7, 12, 0, 0, 0, scl), "2024-09-07", utc("2024-09-08T04:00:00Z"), 24 * time.Hour},
		{"Santiago in the last hour before it", "America/Santiago", utc("2024-09-08T03:30:00Z"), "2024-09-07", utc("2024-09-08T04:00:00Z"), 24 * time.Hour},
		{"Santiago day that lost its midnight", "America/Santiago", utc("2024-09-08T04:00:00Z"), "2024-09-08", utc("2024-09-09T03:00:00Z"), 23 * time.Hour},
		// On 2024-04-07 the clocks go back from 24:00 (-03) to 23:00 (-04):
		// 2024-04-06 has 25 hours.
		{"Santiago in the repeated hour", "America/Santiago", utc("2024-04-07T03:30:00Z"), "2024-04-06", utc("2024-04-07T04:00:00Z"), 25 * time.Hour},
		{"Santiago after fall-back", "America/Santiago", utc("2024-04-07T04:00:00Z"), "2024-04-07", utc("2024-04-08T04:00:00Z"), 24 * time.Hour},

		// Havana: on 2024-03-10 the clocks jump from 00:00 (-05) to 01:00 (-04).
		{"Havana before a missing midnight", "America/Havana", time.Date(2024, 3, 9, 23, 30, 0, 0, hav), "2024-03-09", utc("2024-03-10T05:00:00Z"), 24 * time.Hour},

		{"UTC", "UTC", utc("2024-02-29T23:59:59Z"), "2024-02-29", utc("2024-03-01T00:00:00Z"), 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := dayApp(t, tc.zone)
			day, next := a.Day(tc.at)
			if day != tc.day || !next.Equal(tc.next) {
				t.Fatalf("Day(%s) = %s, %s; want %s, %s", tc.at.Format(time.RFC3339Nano), day,
					next.UTC().Format(time.RFC3339), tc.day, tc.next.UTC().Format(time.RFC3339))
			}
			if !next.After(tc.at) {
				t.Fatalf("next day %s does not come after %s", next, tc.at)
			}
			if nextDay, _ := a.Day(next); nextDay <= day {
				t.Fatalf("the instant the next day begins is still day %s", nextDay)
			}
			// The day's start is the previous day's "next".
			_, start := a.Day(next.Add(-tc.dayLong - time.Nanosecond))
			if got := next.Sub(start); got != tc.dayLong {
				t.Fatalf("day %s lasts %v, want %v", day, got, tc.dayLong)
			}
		})
	}
}

// For every half hour of a year in zones with all kinds of transitions, the
// next day begins after the given instant, within 25 hours, the instant just
// before it is still the same day and the instant itself is a later day.
func TestDayProperties(t *testing.T) {
	years := map[string]int{
		"America/New_York": 2024, "America/Santiago": 2024, "America/Havana": 2024,
		"Asia/Beirut": 2024, "Australia/Lord_Howe": 2024, "Europe/London": 2024,
		"Pacific/Apia": 2011, // skipped 2011-12-30 entirely
	}
	for zone, year := range years {
		a := dayApp(t, zone)
		loc := mustLoad(t, zone)
		end := time.Date(year+1, 1, 1, 0, 0, 0, 0, loc)
		for at := time.Date(year, 1, 1, 0, 0, 0, 0, loc); at.Before(end); at = at.Add(30 * time.Minute) {
			day, next := a.Day(at)
			if day != at.In(loc).Format(time.DateOnly) {
				t.Fatalf("%s %s: day %s", zone, at, day)
			}
			if !next.After(at) || next.Sub(at) > 25*time.Hour {
				t.Fatalf("%s: Day(%s) next = %s", zone, at, next)
			}
			if before, _ := a.Day(next.Add(-time.Nanosecond)); before != day {
				t.Fatalf("%s: Day(%s) next = %s, but just before it is %s", zone, at, next, before)
			}
			if after, _ := a.Day(next); after <= day {
				t.Fatalf("%s: Day(%s) next = %s, which is day %s", zone, at, next, after)
			}
		}
	}
}
