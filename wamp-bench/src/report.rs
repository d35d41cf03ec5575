//! The results: one row per scenario and transport/serializer, one cell per target,
//! printed as a markdown table (with the ratios router/ceiling and router/crossbar) and,
//! on request, as one JSON object per result.

use serde_json::{json, Map, Value};

use crate::targets::Kind;

/// One target's figure in a row.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The number the ratios use (in the row's unit).
    pub value: f64,
    /// What the table shows.
    pub text: String,
    /// Everything measured, for the JSON line.
    pub details: Map<String, Value>,
}

/// What a target's slot in a row holds.
#[derive(Debug, Clone)]
enum Slot {
    Empty,
    Figure(Cell),
    /// Not measured, and why (shown as "n/a", or the error).
    Missing(String),
}

/// One line of the table.
#[derive(Debug, Clone)]
struct Row {
    scenario: String,
    combo: String,
    unit: &'static str,
    slots: [Slot; 3],
}

fn index(kind: Kind) -> usize {
    match kind {
        Kind::Echo => 0,
        Kind::Router => 1,
        Kind::Crossbar => 2,
    }
}

/// All results of a run.
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<Row>,
    /// What an empty slot of each column shows (a target that did not run).
    column_default: [Option<String>; 3],
    /// Lines printed under the table.
    pub notes: Vec<String>,
}

impl Report {
    fn row(&mut self, scenario: &str, combo: &str, unit: &'static str) -> &mut Row {
        let at = match self
            .rows
            .iter()
            .position(|r| r.scenario == scenario && r.combo == combo)
        {
            Some(at) => at,
            None => {
                self.rows.push(Row {
                    scenario: scenario.to_string(),
                    combo: combo.to_string(),
                    unit,
                    slots: [Slot::Empty, Slot::Empty, Slot::Empty],
                });
                self.rows.len() - 1
            }
        };
        &mut self.rows[at]
    }

    /// Records a figure.
    pub fn set(&mut self, scenario: &str, combo: &str, unit: &'static str, kind: Kind, cell: Cell) {
        self.row(scenario, combo, unit).slots[index(kind)] = Slot::Figure(cell);
    }

    /// Records that a target has no figure for a row, and why.
    pub fn missing(
        &mut self,
        scenario: &str,
        combo: &str,
        unit: &'static str,
        kind: Kind,
        why: &str,
    ) {
        self.row(scenario, combo, unit).slots[index(kind)] = Slot::Missing(why.to_string());
    }

    /// Marks a whole column as not measured (its empty cells show `why`).
    pub fn missing_column(&mut self, kind: Kind, why: &str) {
        self.column_default[index(kind)] = Some(why.to_string());
    }

    /// The markdown table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "| scenario | transport/serializer | {} | {} | {} | router/ceiling | router/crossbar |\n",
            Kind::Echo.title(),
            Kind::Router.title(),
            Kind::Crossbar.title()
        ));
        out.push_str("|---|---|---|---|---|---|---|\n");
        for row in &self.rows {
            let text = |slot: &Slot, column: usize| match slot {
                Slot::Empty => self.column_default[column]
                    .clone()
                    .unwrap_or_else(|| "—".to_string()),
                Slot::Figure(cell) => cell.text.clone(),
                Slot::Missing(why) => why.clone(),
            };
            let value = |slot: &Slot| match slot {
                Slot::Figure(cell) if cell.value > 0.0 => Some(cell.value),
                _ => None,
            };
            let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => format!("{:.2}x", a / b),
                _ => "—".to_string(),
            };
            let [echo, router, crossbar] = &row.slots;
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                row.scenario,
                row.combo,
                text(echo, 0),
                text(router, 1),
                text(crossbar, 2),
                ratio(value(router), value(echo)),
                ratio(value(router), value(crossbar)),
            ));
        }
        out
    }

    /// One JSON object per figure.
    pub fn json_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for row in &self.rows {
            for (kind, slot) in [Kind::Echo, Kind::Router, Kind::Crossbar]
                .iter()
                .zip(&row.slots)
            {
                let mut object = json!({
                    "scenario": row.scenario,
                    "transport": row.combo,
                    "target": kind.name(),
                    "unit": row.unit,
                });
                match slot {
                    Slot::Empty => continue,
                    Slot::Figure(cell) => {
                        object["value"] = json!(cell.value);
                        if let Value::Object(map) = &mut object {
                            map.extend(cell.details.clone());
                        }
                    }
                    Slot::Missing(why) => object["missing"] = json!(why),
                }
                lines.push(object.to_string());
            }
        }
        lines
    }
}

/// `12.3k`, `1.23M`: a rate or count for the table.
pub fn si(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.1}k", n / 1e3)
    } else if n >= 100.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.2}")
    }
}

/// A duration in microseconds for the table.
pub fn micros(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// A byte count as MiB.
pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_ratios_and_gaps() {
        let mut report = Report::default();
        let cell = |v: f64| Cell {
            value: v,
            text: format!("{v}"),
            details: Map::new(),
        };
        report.set("rpc", "ws/json", "calls/s", Kind::Echo, cell(100.0));
        report.set("rpc", "ws/json", "calls/s", Kind::Router, cell(60.0));
        report.missing("rpc", "ws/json", "calls/s", Kind::Crossbar, "n/a");
        let table = report.table();
        assert!(
            table.contains("| rpc | ws/json | 100 | 60 | n/a | 0.60x | — |"),
            "{table}"
        );
        assert_eq!(report.json_lines().len(), 3);
    }
}
