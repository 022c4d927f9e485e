//! The backend extension: flex forward kernels and their autodiff wrappers.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};

use super::conv::{self, ConvGrads, Geometry};
use super::host;

/// Fused CPU operations with custom backward passes (flex and autodiff-on-flex only).
#[backend_extension(Flex, Autodiff)]
pub trait FastOps: Backend {
    /// ELU with α = 1.
    fn elu(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// 2-D convolution with bias, groups 1, dilation 1, symmetric zero padding.
    fn conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self>;

    /// 2-D transposed convolution with bias, groups 1, dilation 1, no output padding.
    fn conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self>;
}

/// ELU forward on host data.
fn elu_forward(x: FloatTensor<Flex>) -> FloatTensor<Flex> {
    host::map(x, |v| if v > 0.0 { v } else { v.exp() - 1.0 })
}

/// ELU input gradient from the saved output `y`: `g` where y > 0, `g (y + 1)` elsewhere.
fn elu_backward(y: FloatTensor<Flex>, grad: FloatTensor<Flex>) -> FloatTensor<Flex> {
    host::zip_map(y, grad, |y, g| if y > 0.0 { g } else { g * (y + 1.0) })
}

impl FastOps for Flex {
    fn elu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        elu_forward(x)
    }

    fn conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        conv::conv2d_forward(x, weight, bias, &Geometry { stride, padding })
    }

    fn conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        conv::conv_transpose2d_forward(x, weight, bias, &Geometry { stride, padding })
    }
}

/// Backward step shared by the two convolutions: the saved input and weight, the geometry,
/// and which of the two kernels computes the gradients.
#[derive(Debug)]
struct ConvBackward {
    geometry: Geometry,
    transposed: bool,
}

impl Backward<Flex, 3> for ConvBackward {
    type State = (FloatTensor<Flex>, FloatTensor<Flex>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, weight) = ops.state;
        let need = [node_x.is_some(), node_w.is_some()];
        let ConvGrads {
            x: gx,
            weight: gw,
            bias: gb,
        } = if self.transposed {
            conv::conv_transpose2d_backward(x, weight, grad, &self.geometry, need)
        } else {
            conv::conv2d_backward(x, weight, grad, &self.geometry, need)
        };
        for (node, g) in [(node_x, gx), (node_w, gw), (node_b, Some(gb))] {
            if let (Some(node), Some(g)) = (node, g) {
                grads.register::<Flex>(node.id, g);
            }
        }
    }
}

/// Records a convolution on the tape (or just runs it when nothing is tracked).
fn tracked_conv<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<Flex, C>>,
    weight: FloatTensor<Autodiff<Flex, C>>,
    bias: FloatTensor<Autodiff<Flex, C>>,
    geometry: Geometry,
    transposed: bool,
) -> FloatTensor<Autodiff<Flex, C>> {
    let forward = |x, w, b| {
        if transposed {
            conv::conv_transpose2d_forward(x, w, b, &geometry)
        } else {
            conv::conv2d_forward(x, w, b, &geometry)
        }
    };
    let step = ConvBackward {
        geometry,
        transposed,
    };
    match step
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (x, w, b) = (
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            );
            let y = forward(x.clone(), w.clone(), b);
            prep.finish((x, w), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(
            x.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
        )),
    }
}

impl<C: CheckpointStrategy> FastOps for Autodiff<Flex, C> {
    fn elu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct EluBackward;

        impl Backward<Flex, 1> for EluBackward {
            type State = FloatTensor<Flex>;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let [node] = ops.parents;
                let grad = grads.consume::<Flex>(&ops.node);
                if let Some(node) = node {
                    grads.register::<Flex>(node.id, elu_backward(ops.state, grad));
                }
            }
        }

        match EluBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = elu_forward(x.into_primitive());
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(elu_forward(x.into_primitive())),
        }
    }

    fn conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        tracked_conv::<C>(x, weight, bias, Geometry { stride, padding }, false)
    }

    fn conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        tracked_conv::<C>(x, weight, bias, Geometry { stride, padding }, true)
    }
}
