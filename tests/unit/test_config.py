"""Settings from the environment: defaults, each variable, and errors naming the variable."""

from __future__ import annotations

import pytest
from kserve_functions.config import AuthMode, ConfigError, Settings

NOT_SECONDS = "is not a number of seconds"
ONLY = "may use only {name}, {namespace} and {domain}"


def test_an_empty_environment_gives_the_defaults() -> None:
    assert Settings.from_environment({}) == Settings(
        kubeconfig=None,
        model_domain="example.com",
        model_url_template="http://{name}.{namespace}.{domain}",
        max_body_bytes=1024 * 1024,
        kube_timeout_seconds=10.0,
        wait_timeout_default_seconds=60.0,
        wait_timeout_max_seconds=600.0,
        list_page_size=250,
        auth_mode=AuthMode.KUBERNETES,
    )


def test_unrelated_variables_are_ignored() -> None:
    assert Settings.from_environment({"PATH": "/bin", "HOME": "/root"}) == Settings()


@pytest.mark.parametrize(
    ("variable", "value", "attribute", "expected"),
    [
        ("KUBECONFIG", "/etc/kube/config", "kubeconfig", "/etc/kube/config"),
        ("KUBECONFIG", "", "kubeconfig", None),
        ("MODEL_DOMAIN", "models.internal", "model_domain", "models.internal"),
        (
            "MODEL_URL_TEMPLATE",
            "https://{name}-{namespace}.{domain}/v1",
            "model_url_template",
            "https://{name}-{namespace}.{domain}/v1",
        ),
        ("MODEL_URL_TEMPLATE", "http://fixed.example", "model_url_template", "http://fixed.example"),
        ("MAX_BODY_BYTES", "2048", "max_body_bytes", 2048),
        ("KUBE_TIMEOUT_SECONDS", "2.5", "kube_timeout_seconds", 2.5),
        ("WAIT_TIMEOUT_DEFAULT_SECONDS", "30", "wait_timeout_default_seconds", 30.0),
        ("WAIT_TIMEOUT_MAX_SECONDS", "120", "wait_timeout_max_seconds", 120.0),
        ("LIST_PAGE_SIZE", "50", "list_page_size", 50),
        ("AUTH_MODE", "none", "auth_mode", AuthMode.NONE),
    ],
)  # fmt: skip
def test_each_variable_is_read(variable: str, value: str, attribute: str, expected: object) -> None:
    assert getattr(Settings.from_environment({variable: value}), attribute) == expected


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MAX_BODY_BYTES", "abc", "MAX_BODY_BYTES='abc' is not a whole number"),
        ("MAX_BODY_BYTES", "1.5", "MAX_BODY_BYTES='1.5' is not a whole number"),
        ("MAX_BODY_BYTES", "", "MAX_BODY_BYTES='' is not a whole number"),
        ("MAX_BODY_BYTES", "0", "MAX_BODY_BYTES='0' must be greater than 0"),
        ("LIST_PAGE_SIZE", "-5", "LIST_PAGE_SIZE='-5' must be greater than 0"),
        ("KUBE_TIMEOUT_SECONDS", "-1", "KUBE_TIMEOUT_SECONDS='-1' must be greater than 0"),
        ("KUBE_TIMEOUT_SECONDS", "0", "KUBE_TIMEOUT_SECONDS='0' must be greater than 0"),
        ("KUBE_TIMEOUT_SECONDS", "nan", "KUBE_TIMEOUT_SECONDS='nan' must be greater than 0"),
        ("KUBE_TIMEOUT_SECONDS", "10s", "KUBE_TIMEOUT_SECONDS='10s' is not a number of seconds"),
        ("WAIT_TIMEOUT_DEFAULT_SECONDS", "x", "WAIT_TIMEOUT_DEFAULT_SECONDS='x' " + NOT_SECONDS),
        ("WAIT_TIMEOUT_MAX_SECONDS", "-0", "WAIT_TIMEOUT_MAX_SECONDS='-0' must be greater than 0"),
        ("MODEL_URL_TEMPLATE", "http://{unknown}", "MODEL_URL_TEMPLATE='http://{unknown}' " + ONLY),
        ("MODEL_URL_TEMPLATE", "http://{0}", "MODEL_URL_TEMPLATE='http://{0}' " + ONLY),
        ("MODEL_URL_TEMPLATE", "http://{name", "MODEL_URL_TEMPLATE='http://{name' " + ONLY),
        ("AUTH_MODE", "bogus", "AUTH_MODE='bogus' is not one of: none, kubernetes"),
        ("AUTH_MODE", "NONE", "AUTH_MODE='NONE' is not one of: none, kubernetes"),
    ],
)  # fmt: skip
def test_an_unusable_value_is_a_config_error_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_environment({variable: value})
    assert str(caught.value) == message


def test_a_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)
