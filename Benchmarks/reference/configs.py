"""Gauge's built-in ACE configurations (Sources/Models/ACEConfiguration.swift), for the reference
implementations: channels, side, encoder and decoder hidden sizes, latents per class, sampling,
the symmetry-statistics net and Fig. 4's convolutional auto-encoder."""

CONFIGS = {
    # name: (channels, side, encoder hidden, decoder hidden, latents, sampling, ssn, conv autoencoder)
    "ace-cifar": dict(channels=3, side=32, enc=[2048, 2048], dec=[2048, 2048], latents=2, sampling="gaussian",
                      ssn=dict(convs=[(32, 3), (64, 3)], pool_input=False, padding=1, hidden=128), conv=None),
    "ace-cifar-conv": dict(channels=3, side=32, enc=[], dec=[1500, 1500], latents=2, sampling="laplace",
                           ssn=dict(convs=[(32, 3), (64, 3)], pool_input=False, padding=1, hidden=128),
                           conv=dict(enc=[(32, 5), (64, 5)], dec=[(32, 5), (3, 5)])),
    "ace-rts": dict(channels=1, side=42, enc=[700], dec=[700], latents=1, sampling="gaussian",
                    ssn=dict(convs=[(20, 5), (20, 5)], pool_input=True, padding=0, hidden=50), conv=None),
}
CLASSES = 10
