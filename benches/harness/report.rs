//! Figures and the Markdown table they end up in.

use std::collections::BTreeMap;

use super::servers::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One measured number of one run.
#[derive(Debug, Clone)]
pub struct Figure {
    pub scenario: &'static str,
    pub metric: String,
    pub value: f64,
    pub better: Better,
}

impl Figure {
    pub fn new(
        scenario: &'static str,
        metric: impl Into<String>,
        value: f64,
        better: Better,
    ) -> Figure {
        Figure {
            scenario,
            metric: metric.into(),
            value,
            better,
        }
    }
}

/// Every run's figures, by (scenario, metric) and server; several rounds give several values.
#[derive(Default)]
pub struct Table {
    rows: Vec<(&'static str, String, Better)>,
    values: BTreeMap<(String, &'static str), Vec<f64>>,
}

impl Table {
    pub fn add(&mut self, kind: Kind, figures: Vec<Figure>) {
        for figure in figures {
            let key = (
                format!("{}\u{0}{}", figure.scenario, figure.metric),
                kind.name(),
            );
            if !self
                .rows
                .iter()
                .any(|(s, m, _)| *s == figure.scenario && *m == figure.metric)
            {
                self.rows
                    .push((figure.scenario, figure.metric.clone(), figure.better));
            }
            self.values.entry(key).or_default().push(figure.value);
        }
    }

    /// The median of a row's values for one server.
    fn median(&self, scenario: &str, metric: &str, kind: Kind) -> Option<f64> {
        let mut values = self
            .values
            .get(&(format!("{scenario}\u{0}{metric}"), kind.name()))?
            .clone();
        values.sort_by(f64::total_cmp);
        Some(values[values.len() / 2])
    }

    /// The table: one row per figure, a column per server, and this crate's ratio to warp::sse.
    pub fn markdown(&self) -> String {
        // A column per server that has a figure, in the harness's order.
        let kinds: Vec<Kind> = Kind::KNOWN
            .iter()
            .copied()
            .filter(|kind| self.values.keys().any(|(_, name)| *name == kind.name()))
            .collect();
        let names: Vec<&str> = kinds.iter().map(|kind| kind.name()).collect();
        let mut out = format!(
            "| scenario | figure | {} | warp-eventstream / warp::sse |\n|---|---|{}---:|\n",
            names.join(" | "),
            "---:|".repeat(names.len())
        );
        for (scenario, metric, better) in &self.rows {
            // No figure: the server was left out (`--server`), does not run this scenario, or
            // failed (reported below the table).
            let cells: Vec<String> = kinds
                .iter()
                .map(|&kind| {
                    self.median(scenario, metric, kind)
                        .map_or("-".to_owned(), format_value)
                })
                .collect();
            let ratio = match (
                self.median(scenario, metric, Kind::Ours),
                self.median(scenario, metric, Kind::Warp),
            ) {
                (Some(ours), Some(warp)) if warp > 0.0 => {
                    let note = match better {
                        Better::Higher => "higher is better",
                        Better::Lower => "lower is better",
                    };
                    format!("{:.2}x ({note})", ours / warp)
                }
                _ => "-".to_owned(),
            };
            out.push_str(&format!(
                "| {scenario} | {metric} | {} | {ratio} |\n",
                cells.join(" | ")
            ));
        }
        out
    }
}

fn format_value(value: f64) -> String {
    if value >= 100_000.0 {
        // Thousands separators for large counts.
        let whole = format!("{:.0}", value);
        let mut out = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}
