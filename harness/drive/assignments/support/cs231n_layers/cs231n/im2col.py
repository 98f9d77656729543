"""Patches of an image batch as columns, and back: the helpers CS231n assignment 2 hands out in
cs231n/im2col.py, written for the grader from their public signatures.

    get_im2col_indices(x_shape, field_height, field_width, padding=1, stride=1) -> (k, i, j)
    im2col_indices(x, field_height, field_width, padding=1, stride=1) -> cols (C*fh*fw, N*out_h*out_w)
    col2im_indices(cols, x_shape, field_height=3, field_width=3, padding=1, stride=1) -> x-shaped sums
"""
import numpy as np


def _output_size(size, field, padding, stride):
    span = size + 2 * padding - field
    if span % stride:
        raise ValueError(f"a field of {field} with padding {padding} and stride {stride} does not tile {size}")
    return span // stride + 1


def get_im2col_indices(x_shape, field_height, field_width, padding=1, stride=1):
    """Channel, row and column indices into the padded input for every entry of the columns."""
    _, channels, height, width = x_shape
    out_h = _output_size(height, field_height, padding, stride)
    out_w = _output_size(width, field_width, padding, stride)
    rows_in_field = np.tile(np.repeat(np.arange(field_height), field_width), channels)
    cols_in_field = np.tile(np.arange(field_width), field_height * channels)
    row_starts = stride * np.repeat(np.arange(out_h), out_w)
    col_starts = stride * np.tile(np.arange(out_w), out_h)
    i = rows_in_field.reshape(-1, 1) + row_starts.reshape(1, -1)
    j = cols_in_field.reshape(-1, 1) + col_starts.reshape(1, -1)
    k = np.repeat(np.arange(channels), field_height * field_width).reshape(-1, 1)
    return k.astype(int), i.astype(int), j.astype(int)


def im2col_indices(x, field_height, field_width, padding=1, stride=1):
    """Every receptive field of x (N, C, H, W) as one column."""
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="constant")
    k, i, j = get_im2col_indices(x.shape, field_height, field_width, padding, stride)
    cols = padded[:, k, i, j]                                  # (N, C*fh*fw, out_h*out_w)
    return cols.transpose(1, 2, 0).reshape(field_height * field_width * x.shape[1], -1)


def col2im_indices(cols, x_shape, field_height=3, field_width=3, padding=1, stride=1):
    """The adjoint of im2col_indices: each column entry added back where it came from."""
    n, channels, height, width = x_shape
    padded = np.zeros((n, channels, height + 2 * padding, width + 2 * padding), dtype=cols.dtype)
    k, i, j = get_im2col_indices(x_shape, field_height, field_width, padding, stride)
    per_image = cols.reshape(channels * field_height * field_width, -1, n).transpose(2, 0, 1)
    np.add.at(padded, (slice(None), k, i, j), per_image)
    if padding == 0:
        return padded
    return padded[:, :, padding:-padding, padding:-padding]
