/// The `scenario` object of `takt plan --scenario FILE --format json` (`docs/planning.md`):
/// fixed key order, no whitespace, every key present; GWh and shares rounded to 6 decimals.
extension ScenarioPlan {
    /// The plan's target pace against the measured year to date (`takt plan` adds it).
    public struct Pace: Sendable, Equatable {
        public var year: Int
        /// The first local day the store has data in ``year`` (1 January when it had data then).
        public var from: CivilDay
        /// The plan's energy from ``from`` to `as_of`, GWh.
        public var planYTDGWh: Double
        /// Measured energy of the same span, GWh.
        public var ytdGWh: Double
        /// The plan's energy of the whole year, GWh.
        public var planYearGWh: Double

        public init(year: Int, from: CivilDay, planYTDGWh: Double, ytdGWh: Double, planYearGWh: Double) {
            self.year = year
            self.from = from
            self.planYTDGWh = planYTDGWh
            self.ytdGWh = ytdGWh
            self.planYearGWh = planYearGWh
        }
    }

    /// Appends the object to `out`.
    public func writeJSON(into out: inout [UInt8], pace: Pace? = nil) {
        var o = JSONObject(out: out)
        o.open()
        o.key("start"); o.string(start.description)
        o.key("horizon_days"); o.int(horizonDays)
        o.key("runs"); o.int(runs)
        o.key("seed"); o.raw(String(seed))
        o.key("block_days"); o.int(blockDays)
        o.key("lookback_days"); o.int(lookbackDays)
        o.key("target_gwh_per_year"); o.exact(targetGWhPerYear)
        o.key("target_date"); o.string(targetDate.description)
        o.key("nameplate_gwh_per_year"); o.number(nameplateGWhPerYear)
        o.key("ceiling_gwh_per_year"); o.number(ceilingGWhPerYear)
        o.key("impossible"); o.raw(impossible ? "true" : "false")
        o.key("reach")
        o.open()
        o.key("p10"); o.date(reach.p10)
        o.key("p50"); o.date(reach.p50)
        o.key("p90"); o.date(reach.p90)
        o.close()
        o.key("probability_by_target_date"); o.number(probabilityByTargetDate)
        o.key("rate_at_target_date_gwh_per_year"); o.percentiles(rateAtTargetDate)
        o.key("pace")
        if let pace {
            o.open()
            o.key("year"); o.int(pace.year)
            o.key("from"); o.string(pace.from.description)
            o.key("plan_ytd_gwh"); o.number(pace.planYTDGWh)
            o.key("ytd_gwh"); o.number(pace.ytdGWh)
            o.key("plan_year_gwh"); o.number(pace.planYearGWh)
            o.close()
        } else {
            o.raw("null")
        }
        o.key("lines")
        o.openArray()
        for l in lines {
            o.open()
            o.key("line"); o.string(l.line)
            o.key("phase"); o.optionalString(l.phase)
            o.key("template"); o.string(l.template)
            o.key("commissioning"); o.date(l.commissioning)
            o.key("sample_days"); o.int(l.sampleDays)
            o.key("observed_oee"); o.number(l.observedOEE)
            o.key("mean_gwh_per_year"); o.number(l.meanGWhPerYear)
            o.key("nameplate_gwh_per_year"); o.number(l.nameplateGWhPerYear)
            o.close()
        }
        o.closeArray()
        for (name, periods) in [("months", months), ("years", years)] {
            o.key(name)
            o.openArray()
            for p in periods {
                o.open()
                o.key(name == "months" ? "month" : "year"); o.string(p.label)
                o.key("days"); o.int(p.days)
                o.key("actual_gwh"); o.number(p.actualGWh)
                o.key("gwh"); o.percentiles(p.gwh)
                o.key("plan_gwh"); o.number(p.planGWh)
                o.close()
            }
            o.closeArray()
        }
        o.key("fan")
        o.openArray()
        for f in fan {
            o.open()
            o.key("date"); o.string(f.day.description)
            o.key("cumulative_gwh"); o.percentiles(f.cumulativeGWh)
            o.key("annualised_gwh"); o.percentiles(f.annualisedGWh)
            o.key("plan_cumulative_gwh"); o.number(f.planCumulativeGWh)
            o.close()
        }
        o.closeArray()
        o.key("levers")
        o.openArray()
        for l in levers {
            o.open()
            o.key("lever"); o.string(l.name)
            o.key("label"); o.string(l.label)
            o.key("reach_p50"); o.date(l.reachP50)
            o.key("delta_days"); if let d = l.deltaDays { o.int(d) } else { o.raw("null") }
            o.key("probability_by_target_date"); o.number(l.probabilityByTargetDate)
            o.key("rate_at_target_date_p50"); o.number(l.rateAtTargetDateP50)
            o.close()
        }
        o.closeArray()
        o.key("extra_lines_needed"); if let n = extraLinesNeeded { o.int(n) } else { o.raw("null") }
        o.close()
        out = o.out
    }

    /// The object as a string.
    public func json(pace: Pace? = nil) -> String {
        var out: [UInt8] = []
        writeJSON(into: &out, pace: pace)
        return String(decoding: out, as: UTF8.self)
    }
}

/// A small writer of one JSON value with commas placed by position.
struct JSONObject {
    var out: [UInt8]

    mutating func comma() {
        if let last = out.last, last != UInt8(ascii: "{"), last != UInt8(ascii: "["), last != UInt8(ascii: ":") {
            out.append(UInt8(ascii: ","))
        }
    }

    mutating func open() { comma(); out.append(UInt8(ascii: "{")) }
    mutating func close() { out.append(UInt8(ascii: "}")) }
    mutating func openArray() { comma(); out.append(UInt8(ascii: "[")) }
    mutating func closeArray() { out.append(UInt8(ascii: "]")) }

    mutating func key(_ k: String) {
        comma()
        JSONOut.string(k, &out)
        out.append(UInt8(ascii: ":"))
    }

    mutating func raw(_ s: String) { comma(); out.append(contentsOf: Array(s.utf8)) }
    mutating func int(_ v: Int) { comma(); JSONOut.int(Int64(v), &out) }
    mutating func string(_ s: String) { comma(); JSONOut.string(s, &out) }
    mutating func optionalString(_ s: String?) { if let s { string(s) } else { raw("null") } }
    mutating func date(_ d: CivilDay?) { optionalString(d?.description) }
    /// As given (a value from the file).
    mutating func exact(_ v: Double) { comma(); JSONOut.double(v, &out) }
    /// Rounded to 6 decimals.
    mutating func number(_ v: Double?) { comma(); JSONOut.double(v.map(CapacityPlan.round6), &out) }

    mutating func percentiles(_ p: ScenarioPlan.Percentiles?) {
        guard let p else { return raw("null") }
        open()
        key("p10"); number(p.p10)
        key("p50"); number(p.p50)
        key("p90"); number(p.p90)
        close()
    }
}
