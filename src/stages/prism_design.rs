//! `prism_design`: the Latin-hypercube design set and its recorded split.

use ndarray::Axis;

use super::pollok_common::{DesignSet, batch};
use crate::engine::{Stage, StageContext, StageResult};
use crate::physics::prism_design::{DesignSpace, latin_hypercube, pollok_split};
use crate::report::image_grid::{Colormap, ImageGrid, image_grid};

/// The `prism_design` stage kind.
pub struct PrismDesignStage;

impl Stage for PrismDesignStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let n = ctx.usize("count")?;
        let designs = latin_hypercube(n, &DesignSpace::default(), ctx.seed());
        let split = pollok_split(n, ctx.seed() ^ 0x5711);
        let set = DesignSet {
            designs: designs
                .iter()
                .map(|d| [d.x_cm, d.y_cm, d.side_cm, d.magnetization_t, d.phi_rad])
                .collect(),
            train: split.train,
            validation: split.validation,
            test: split.test,
        };
        ctx.write_json("designs", &set)?;
        let rows: Vec<usize> = (0..n.min(3)).collect();
        let (maps, _) = batch(&set, &rows, ctx.usize("preview_resolution")?)?;
        let max = maps.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6) * 0.5;
        let mut panels = Vec::new();
        for (k, map) in maps.axis_iter(Axis(0)).enumerate() {
            let d = set.designs[k];
            panels.push((
                format!("#{k} μ0Hx (a {:.2} cm)", d[2]),
                map.index_axis(Axis(0), 0).to_owned(),
            ));
            panels.push((
                format!("#{k} μ0Hy (|M| {:.2} T)", d[3]),
                map.index_axis(Axis(0), 1).to_owned(),
            ));
        }
        let grid = ImageGrid {
            title: "μ0H at z = 0.5 cm (T; colours clipped at half the maximum)".into(),
            images: panels.iter().map(|(c, a)| (c.clone(), a.view())).collect(),
            cols: 2,
            colormap: Colormap::RedBlue { min: -max, max },
            colorbar_label: "T".into(),
        };
        image_grid(&ctx.output("preview")?, &grid)?;
        Ok(())
    }
}
