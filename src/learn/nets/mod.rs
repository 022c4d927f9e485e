//! Network architectures and their building blocks: the torchvision/timm CNNs Pollok et al.
//! compare, the Keras-style dense blocks of the Kornell et al. models, squeeze-and-excitation,
//! PyTorch-initialised layers and parameter counting.

pub mod dense;
pub mod densenet;
pub mod efficientnet;
pub mod inception_resnet_v2;
pub mod param_count;
pub mod resnet;
pub mod se_resnext;
pub mod squeeze_excitation;
pub mod torch_layers;
