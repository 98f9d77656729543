"""deeplearning.ai Course 1, week 4, "Building your Deep Neural Network: Step by Step": an
L-layer net written as functions over a `parameters` dict, data in columns (X (n_x, m),
W (n_l, n_{l-1}), b (n_l, 1)); ReLU hidden layers, a sigmoid output, binary cross-entropy averaged
over m, caches passed from the forward to the backward pass, update_parameters returning the new
dict. The activations and their backward functions come from the course's dnn_utils (the grader
ships it: harness/drive/assignments/support/dlai_deep_nn)."""
import copy

import numpy as np
from dnn_utils import relu, relu_backward, sigmoid, sigmoid_backward


def initialize_parameters_deep(layer_dims):
    rng = np.random.default_rng(3)
    parameters = {}
    L = len(layer_dims)
    for layer in range(1, L):
        parameters['W' + str(layer)] = rng.standard_normal((layer_dims[layer], layer_dims[layer - 1])) * 0.01
        parameters['b' + str(layer)] = np.zeros((layer_dims[layer], 1))
    return parameters


def linear_forward(A, W, b):
    Z = np.dot(W, A) + b
    cache = (A, W, b)
    return Z, cache


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    if activation == "sigmoid":
        A, activation_cache = sigmoid(Z)
    elif activation == "relu":
        A, activation_cache = relu(Z)
    else:
        raise ValueError(activation)
    cache = (linear_cache, activation_cache)
    return A, cache


def L_model_forward(X, parameters):
    caches = []
    A = X
    L = len(parameters) // 2
    for layer in range(1, L):
        A_prev = A
        A, cache = linear_activation_forward(A_prev, parameters['W' + str(layer)], parameters['b' + str(layer)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters['W' + str(L)], parameters['b' + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
    cost = np.squeeze(cost)
    return cost


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = np.dot(dZ, A_prev.T) / m
    db = np.sum(dZ, axis=1, keepdims=True) / m
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def linear_activation_backward(dA, cache, activation):
    linear_cache, activation_cache = cache
    if activation == "relu":
        dZ = relu_backward(dA, activation_cache)
    elif activation == "sigmoid":
        dZ = sigmoid_backward(dA, activation_cache)
    else:
        raise ValueError(activation)
    dA_prev, dW, db = linear_backward(dZ, linear_cache)
    return dA_prev, dW, db


def L_model_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)

    # derivative of the cost with respect to AL
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))

    current_cache = caches[L - 1]
    dA_prev_temp, dW_temp, db_temp = linear_activation_backward(dAL, current_cache, "sigmoid")
    grads["dA" + str(L - 1)] = dA_prev_temp
    grads["dW" + str(L)] = dW_temp
    grads["db" + str(L)] = db_temp

    for layer in reversed(range(L - 1)):
        current_cache = caches[layer]
        dA_prev_temp, dW_temp, db_temp = linear_activation_backward(grads["dA" + str(layer + 1)], current_cache, "relu")
        grads["dA" + str(layer)] = dA_prev_temp
        grads["dW" + str(layer + 1)] = dW_temp
        grads["db" + str(layer + 1)] = db_temp
    return grads


def update_parameters(params, grads, learning_rate):
    parameters = copy.deepcopy(params)
    L = len(parameters) // 2
    for layer in range(L):
        parameters["W" + str(layer + 1)] = parameters["W" + str(layer + 1)] - learning_rate * grads["dW" + str(layer + 1)]
        parameters["b" + str(layer + 1)] = parameters["b" + str(layer + 1)] - learning_rate * grads["db" + str(layer + 1)]
    return parameters
