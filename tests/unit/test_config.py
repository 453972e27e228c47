"""Settings from the environment: defaults, each variable, and errors naming the variable."""

from __future__ import annotations

import pytest
from kserve_functions.config import AuthMode, ConfigError, ModelUrls, Settings
from kserve_functions.functions import deploy

NOT_SECONDS = "is not a number of seconds"
ONLY = "may use only {name}, {namespace} and {domain}"


def test_an_empty_environment_gives_the_defaults() -> None:
    assert Settings.from_environment({}) == Settings(
        kubeconfig=None,
        model_urls=ModelUrls(
            domain="example.com",
            standard_template="http://{name}-{namespace}.{domain}",
            knative_template="http://{name}.{namespace}.{domain}",
        ),
        max_body_bytes=1024 * 1024,
        kube_timeout_seconds=10.0,
        wait_timeout_default_seconds=60.0,
        wait_timeout_max_seconds=600.0,
        list_page_size=250,
        auth_mode=AuthMode.KUBERNETES,
        health_probe_namespace="default",
    )


def test_unrelated_variables_are_ignored() -> None:
    assert Settings.from_environment({"PATH": "/bin", "HOME": "/root"}) == Settings()


@pytest.mark.parametrize(
    ("variable", "value", "attribute", "expected"),
    [
        ("KUBECONFIG", "/etc/kube/config", "kubeconfig", "/etc/kube/config"),
        ("KUBECONFIG", "", "kubeconfig", None),
        ("MAX_BODY_BYTES", "2048", "max_body_bytes", 2048),
        ("KUBE_TIMEOUT_SECONDS", "2.5", "kube_timeout_seconds", 2.5),
        ("WAIT_TIMEOUT_DEFAULT_SECONDS", "30", "wait_timeout_default_seconds", 30.0),
        ("WAIT_TIMEOUT_MAX_SECONDS", "120", "wait_timeout_max_seconds", 120.0),
        ("LIST_PAGE_SIZE", "50", "list_page_size", 50),
        ("AUTH_MODE", "none", "auth_mode", AuthMode.NONE),
        ("HEALTH_PROBE_NAMESPACE", "kserve-probe", "health_probe_namespace", "kserve-probe"),
        ("HEALTH_PROBE_NAMESPACE", "a" * 63, "health_probe_namespace", "a" * 63),
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


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"MODEL_DOMAIN": "models.internal"}, ModelUrls(domain="models.internal")),
        (
            {"MODEL_URL_TEMPLATE_STANDARD": "https://{name}.{namespace}.svc.{domain}/v1"},
            ModelUrls(standard_template="https://{name}.{namespace}.svc.{domain}/v1"),
        ),
        (
            {"MODEL_URL_TEMPLATE_KNATIVE": "http://fixed.example"},
            ModelUrls(knative_template="http://fixed.example"),
        ),
        (
            {
                "MODEL_DOMAIN": "ai.io",
                "MODEL_URL_TEMPLATE_STANDARD": "https://{name}-{namespace}.{domain}",
                "MODEL_URL_TEMPLATE_KNATIVE": "https://{name}.{namespace}.{domain}",
            },
            ModelUrls(
                domain="ai.io",
                standard_template="https://{name}-{namespace}.{domain}",
                knative_template="https://{name}.{namespace}.{domain}",
            ),
        ),
    ],
    ids=["domain", "standard-template", "knative-template", "all-three"],
)
def test_the_model_url_variables_make_one_url_rule(
    environ: dict[str, str], expected: ModelUrls
) -> None:
    assert Settings.from_environment(environ).model_urls == expected


@pytest.mark.parametrize("variable", ["MODEL_URL_TEMPLATE_STANDARD", "MODEL_URL_TEMPLATE_KNATIVE"])
@pytest.mark.parametrize(
    "template",
    ["http://{unknown}", "http://{0}", "http://{}", "http://{name", "http://name}"],
    ids=["unknown-name", "positional", "empty", "unclosed", "stray-brace"],
)
def test_a_url_template_with_other_placeholders_is_a_config_error(
    variable: str, template: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_environment({variable: template})
    assert str(caught.value) == f"{variable}={template!r} {ONLY}"


@pytest.mark.parametrize(
    "value",
    ["", "Default", "-probe", "probe-", "a.b", " default", "a" * 64],
    ids=["empty", "upper-case", "leading-dash", "trailing-dash", "dot", "space", "64-characters"],
)
def test_a_health_probe_namespace_that_cannot_name_a_namespace_is_a_config_error(
    value: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_environment({"HEALTH_PROBE_NAMESPACE": value})
    assert str(caught.value) == f"HEALTH_PROBE_NAMESPACE={value!r} is not a namespace name"


def test_an_unusable_health_probe_namespace_keeps_the_function_not_ready() -> None:
    function = deploy.new()

    function.start({"HEALTH_PROBE_NAMESPACE": "Default"})

    assert function.ready() == (False, "HEALTH_PROBE_NAMESPACE='Default' is not a namespace name")


def test_a_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    ("environ", "sink"),
    [
        ({}, None),
        ({"K_SINK": ""}, None),
        ({"K_SINK": "http://broker-ingress/ns/default"}, "http://broker-ingress/ns/default"),
        ({"K_SINK": "https://127.0.0.1:8443/"}, "https://127.0.0.1:8443/"),
    ],
)  # fmt: skip
def test_the_event_sink_is_k_sink(environ: dict[str, str], sink: str | None) -> None:
    settings = Settings.from_environment(environ)

    assert settings.event_sink == sink
    assert settings.event_sink_token_file == "/oidc/token"
    assert settings.event_sink_ca_certs is None


def test_the_sink_ca_certificates_and_token_file_are_read_and_not_shown() -> None:
    settings = Settings.from_environment(
        {"K_SINK": "https://b/", "K_CA_CERTS": "-----BEGIN CERT", "K_SINK_TOKEN_FILE": "/t/token"}
    )

    assert (settings.event_sink_ca_certs, settings.event_sink_token_file) == (
        "-----BEGIN CERT",
        "/t/token",
    )
    assert "BEGIN" not in repr(settings)


@pytest.mark.parametrize("value", ["broker", "/ns/default", "ftp://b/x", "http://", "http://[::1"])
def test_a_k_sink_that_is_not_an_http_url_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^K_SINK=.* is not an absolute http\(s\) URL$"):
        Settings.from_environment({"K_SINK": value})
