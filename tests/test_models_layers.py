"""genrob.models.layers: the fast decoder layers compute what PyTorch's plain ones do."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn


@pytest.mark.parametrize("in_channels, out_channels, size, kernel, stride, padding, output_padding",
                         [(64, 1, 14, 5, 2, 2, 1), (8, 3, 4, 3, 2, 1, 1), (4, 2, 5, 4, 2, 1, 0),
                          (4, 1, 5, 3, 3, 0, 0), (3, 2, 4, 6, 2, 2, 0)])
def test_the_sub_pixel_transposed_convolution_is_pytorchs_with_the_same_weights(
        in_channels, out_channels, size, kernel, stride, padding, output_padding):
    from genrob.models.layers import SubPixelConvTranspose2d

    torch.manual_seed(0)
    builtin = nn.ConvTranspose2d(in_channels, out_channels, kernel, stride=stride, padding=padding,
                                 output_padding=output_padding)
    sub_pixel = SubPixelConvTranspose2d(in_channels, out_channels, kernel, stride=stride, padding=padding,
                                        output_padding=output_padding)
    sub_pixel.load_state_dict(builtin.state_dict())  # same parameters: checkpoints load either way
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(3, in_channels, size, size).contiguous(memory_format=layout).requires_grad_(True)
        expected, got = builtin(x), sub_pixel(x)
        assert got.shape == expected.shape == (3, out_channels, stride * size, stride * size)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        for mine, theirs in zip(torch.autograd.grad(got.square().sum(), [x, sub_pixel.weight, sub_pixel.bias]),
                                torch.autograd.grad(expected.square().sum(), [x, builtin.weight, builtin.bias])):
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-3)


def test_the_sub_pixel_transposed_convolution_refuses_what_it_cannot_compute():
    from genrob.models.layers import SubPixelConvTranspose2d

    with pytest.raises(ValueError, match="exactly stride times"):
        SubPixelConvTranspose2d(4, 1, 5, stride=2, padding=2, output_padding=0)  # 2 * size - 1 pixels
    with pytest.raises(ValueError, match="square"):
        SubPixelConvTranspose2d(4, 1, (5, 3), stride=2, padding=2, output_padding=1)


def test_the_fast_decoder_computes_what_pytorchs_plain_layers_do():
    from genrob.models.conv_vae import ConvDecoder
    from genrob.models.layers import ChannelsLastUnflatten, SubPixelConvTranspose2d

    torch.manual_seed(0)
    decoder = ConvDecoder(channels=8)
    assert isinstance(decoder.body[3], ChannelsLastUnflatten)
    assert isinstance(decoder.body[8], SubPixelConvTranspose2d)
    plain = copy.deepcopy(decoder)
    plain.body[3] = nn.Unflatten(1, (8, 4, 4))
    plain.body[8] = nn.ConvTranspose2d(8, 1, 5, stride=2, padding=2, output_padding=1)
    for i, layer in enumerate(plain.body):
        if isinstance(layer, nn.ReLU):
            plain.body[i] = nn.ReLU()
    plain.load_state_dict(decoder.state_dict())  # checkpoints load either way
    assert decoder.body[:4](torch.randn(2, 500)).is_contiguous(memory_format=torch.channels_last)
    z = torch.randn(3, 2, 64, requires_grad=True)
    y = torch.tensor([[1, 7], [0, 3], [9, 9]])
    got, expected = decoder(z, y), plain(z, y)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.autograd.grad(got.square().sum(), z)[0],
                               torch.autograd.grad(expected.square().sum(), z)[0], rtol=1e-4, atol=1e-4)
