"""Metrics of section 5: negative test ELBO, Frechet distance, consistency."""

from lgm.metrics.classifier import FrechetScorer, load_or_train_classifier, train_classifier
from lgm.metrics.elbo import importance_weighted_bound, negative_elbo, posterior_agreement
from lgm.metrics.frechet import frechet_distance, gaussian_frechet

__all__ = ["FrechetScorer", "frechet_distance", "gaussian_frechet", "importance_weighted_bound",
           "load_or_train_classifier", "negative_elbo", "posterior_agreement", "train_classifier"]
