"""Request and response models of the HTTP API (DESIGN §3), validated at the edge.

The seed's fields and their JSON names are the contract: ``name``, ``image``,
``envs``, ``namespace`` in, ``name``, ``namespace``, ``action``, ``status``,
``url`` out. Everything else is an optional addition. JSON names are camelCase
(``minReplicas``), as in the seed and in KServe.

Validation here is what KServe and Kubernetes would reject later, inside the
cluster, where the caller never sees it: a rejected request must leave the
cluster untouched, so it is refused before any API call.

Every function imports this module when it starts, so defining the models is
kept cheap: their schemas are built when first used (``defer_build``), and
annotations are not postponed (no ``from __future__ import annotations``), or
pydantic would compile each one from its string at import, a third of this
module's import time.
"""

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from kserve_functions.core import grammar

# Kubernetes resource quantities: "500m", "2", "1.5Gi", "1e3". Container resources
# must not be negative (the apiserver refuses the pod), so there is no "-" sign.
# The exponent has at most two digits: Kubernetes' parser computes with the
# number it spells, and "6E-97767889" held KServe's webhook for its whole 10 s
# timeout (found by the contract fuzz test); no resource needs more than e99.
QUANTITY = r"^\+?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,2}|[numkMGTPE]|[KMGTPE]i)?$"

# The prefix of the label and annotation keys this project writes itself
# (manifests builds them from it); callers may not set keys under it.
RESERVED_PREFIX = "kserve-functions.dev/"

# KServe names the predictor's Knative host "{name}-predictor-{namespace}", one
# DNS label: longer names pass KServe's webhook and fail later in the cluster.
HOST_LABEL_MAX = grammar.LABEL_MAX
PREDICTOR_HOST_SUFFIX = "-predictor-"
# resources.CANARY_PREDICTOR_NAME (models sits below resources in the layers).
CANARY_PREDICTOR_NAME = "canary"
# KServe's and Kubernetes' integer fields are int32 (replicas, scale target) or
# int64 (tolerationSeconds, a revision): larger numbers the cluster would refuse.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def _given(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """JSON Schema: the object has ``name``, not null (and matching ``schema``)."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}, **(schema or {})}}}


def _canary_with(name: str) -> dict[str, Any]:
    """JSON Schema: a deploy whose ``canary`` is an object that has ``name``."""
    return {"required": ["canary"], "properties": {"canary": {"type": "object", **_given(name)}}}


# The cross-field rules of a deploy (``DeployRequest._consistent``) that JSON
# Schema can state; a present ``null`` counts as absent (the field is None either
# way). Not stated, because JSON Schema cannot compare two values: the host
# label's length (name and namespace together), maxReplicas >= minReplicas, and a
# canary that changes nothing (the same values as the stable predictor); the
# descriptions of those fields say them, and the server answers 422.
DEPLOY_RULES: dict[str, Any] = {
    "allOf": [
        # image or modelFormat, exactly one of them.
        {"oneOf": [_given("image"), _given("modelFormat")]},
        # canary or canaryTrafficPercent, not both.
        {"not": {"allOf": [_given("canary"), _given("canaryTrafficPercent")]}},
        # No canary for ModelMesh; no autoPromote for a Knative canary.
        {
            "if": _given("canary"),
            "then": {"not": _given("deploymentMode", {"const": "ModelMesh"})},
        },
        {
            "if": _canary_with("autoPromote"),
            "then": {"not": _given("deploymentMode", {"enum": ["Knative", "Serverless"]})},
        },
        # A canary image only beside a stable image.
        {"if": _canary_with("image"), "then": _given("image")},
        # The scale metrics of the mode asked for (``SCALE_METRICS``).
        *(
            {
                "if": _given("deploymentMode", {"enum": sorted(modes)}),
                "then": {"not": _given("scaleMetric", {"enum": sorted(others)})},
            }
            for modes, others in (
                ({"Knative", "Serverless"}, {"cpu", "memory"}),
                ({"Standard", "RawDeployment"}, {"concurrency", "rps"}),
            )
        ),
        # KServe runs a Standard-mode canary only beside a stable predictor with a
        # model or a storage URI.
        {
            "if": {
                "allOf": [
                    _given("canary"),
                    {"not": _given("deploymentMode", {"enum": ["Knative", "Serverless"]})},
                ]
            },
            "then": {"anyOf": [_given("modelFormat"), _given("storageUri")]},
        },
    ]
}
# A canary changes at least one of these (and to another value than the stable one's).
CANARY_CHANGES: dict[str, Any] = {
    "anyOf": [_given(name) for name in ("image", "envs", "resources", "storageUri")]
}
# A toleration as the apiserver takes one (``_check_toleration``).
TOLERATION_RULES: dict[str, Any] = {
    "allOf": [
        {
            "if": _given("operator", {"const": "Exists"}),
            "then": {"properties": {"value": {"anyOf": [{"type": "null"}, {"const": ""}]}}},
        },
        {"if": {"not": _given("key")}, "then": _given("operator", {"const": "Exists"})},
    ]
}


@dataclass(frozen=True)
class _Described:
    """Annotation: the JSON Schema says ``pattern`` and ``max_length``; a validator checks.

    For fields whose check is a validator of their own (an image reference, which
    also bounds the regex's work by the length first): the document then states the
    same grammar the validator enforces.
    """

    pattern: str
    max_length: int

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(pattern=self.pattern, maxLength=self.max_length)
        return json_schema


@dataclass(frozen=True)
class _Text(_Described):
    """Annotation: a string matching ``pattern``, at most ``max_length`` long.

    pydantic's own pattern constraint answers "String should match pattern
    '^[a-z]…'", which a caller cannot act on; this one says the rule in words
    (``rule``) and still puts the pattern and length into the JSON schema
    (``_Described``), so the OpenAPI document keeps describing the format exactly.
    """

    rule: str
    error_type: str

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: str) -> str:
        if len(value) > self.max_length:
            raise PydanticCustomError(
                "string_too_long",
                "must be at most {max_length} characters",
                {"max_length": self.max_length},
            )
        # fullmatch: with re.match, "$" would also accept a trailing newline.
        if not re.fullmatch(self.pattern, value):
            raise PydanticCustomError(self.error_type, self.rule)
        return value


def _qualified_prefix_fits(key: str) -> str:
    prefix, slash, _ = key.rpartition("/")
    if slash and len(prefix) > grammar.QUALIFIED_NAME_PREFIX_MAX:
        raise PydanticCustomError(
            "qualified_name_prefix",
            "the prefix before '/' must be at most {max_length} characters",
            {"max_length": grammar.QUALIFIED_NAME_PREFIX_MAX},
        )
    return key


class _NotReserved:
    """Annotation: the JSON Schema of a caller's key excludes ``RESERVED_PREFIX``."""

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["not"] = {"pattern": "^" + re.escape(RESERVED_PREFIX)}
        return json_schema


def _not_reserved(key: str) -> str:
    # manifests writes keys under this prefix itself (the restart token, auto-update
    # opt-in, tracked image); a caller's key there would fake one of those.
    if key.startswith(RESERVED_PREFIX):
        raise PydanticCustomError(
            "reserved_key",
            "the prefix {prefix} is reserved for keys this service sets itself",
            {"prefix": RESERVED_PREFIX},
        )
    return key


ResourceName = Literal["cpu", "memory", "nvidia.com/gpu", "ephemeral-storage"]


def _image_reference(image: str) -> str:
    # is_image_reference bounds the regex's work by checking the length first.
    if not grammar.is_image_reference(image):
        raise PydanticCustomError(
            "image_reference",
            "must be an OCI image reference such as registry.example.com/team/model:v1 "
            "(lowercase repository, optional :tag and @sha256:digest)",
        )
    return image


# An image reference (``grammar.IMAGE_REFERENCE``): the document states the grammar
# (``_Described``), the validator checks it.
Image = Annotated[
    str,
    _Described(grammar.IMAGE_REFERENCE.pattern, max_length=grammar.IMAGE_REFERENCE_MAX),
    AfterValidator(_image_reference),
]
Quantity = Annotated[
    str,
    _Text(
        QUANTITY,
        max_length=64,
        rule="must be a Kubernetes quantity such as 500m, 2, 1Gi (not negative)",
        error_type="quantity",
    ),
]
Name = Annotated[
    str,
    _Text(
        grammar.DNS1035_LABEL,
        max_length=grammar.LABEL_MAX,
        rule=(
            "must be a DNS-1035 label: lowercase letters, digits and '-', "
            "starting with a letter and ending with a letter or digit"
        ),
        error_type="dns1035_label",
    ),
]
Namespace = Annotated[
    str,
    _Text(
        grammar.DNS1123_LABEL,
        max_length=grammar.LABEL_MAX,
        rule=(
            "must be a DNS-1123 label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        ),
        error_type="dns1123_label",
    ),
]
EnvName = Annotated[
    str,
    _Text(
        grammar.C_IDENTIFIER,
        max_length=256,
        rule="must be a C identifier (letters, digits, '_', not starting with a digit)",
        error_type="c_identifier",
    ),
]
LabelKey = Annotated[
    str,
    _Text(
        grammar.QUALIFIED_NAME,
        max_length=grammar.QUALIFIED_NAME_MAX,
        rule=(
            "must be a Kubernetes qualified name: an optional DNS subdomain prefix and '/', "
            "then at most 63 letters, digits, '-', '_' or '.', starting and ending with "
            "a letter or digit"
        ),
        error_type="qualified_name",
    ),
    AfterValidator(_qualified_prefix_fits),
]
LabelValue = Annotated[
    str,
    _Text(
        grammar.LABEL_VALUE,
        max_length=grammar.LABEL_MAX,
        rule=(
            "must be a Kubernetes label value: empty, or letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        ),
        error_type="label_value",
    ),
]
# A label or annotation key a caller may set: not under RESERVED_PREFIX.
CallerKey = Annotated[LabelKey, AfterValidator(_not_reserved), _NotReserved()]
# The name of a ServingRuntime or a ServiceAccount.
Subdomain = Annotated[
    str,
    _Text(
        grammar.DNS1123_SUBDOMAIN,
        max_length=grammar.DNS1123_SUBDOMAIN_MAX,
        rule=(
            "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        ),
        error_type="dns1123_subdomain",
    ),
]

DeploymentMode = Literal["Standard", "Knative", "ModelMesh", "RawDeployment", "Serverless"]
ScaleMetric = Literal["cpu", "memory", "concurrency", "rps"]
# What KServe's validator lets each mode scale by: an HPA's resource metrics in
# Standard mode, Knative's autoscaler's in Knative mode (found by the contract fuzz test).
SCALE_METRICS: dict[str, tuple[str, ...]] = {
    "Standard": ("cpu", "memory"),
    "RawDeployment": ("cpu", "memory"),
    "Knative": ("concurrency", "rps"),
    "Serverless": ("concurrency", "rps"),
}


class _Model(BaseModel):
    """Base of the request models: camelCase JSON, unknown fields refused."""

    # `model_format` and friends are field names here, not pydantic's own namespace.
    model_config = ConfigDict(
        extra="forbid",
        # The wire has camelCase names only (minReplicas), as the seed and KServe do.
        validate_by_name=False,
        validate_by_alias=True,
        frozen=True,
        protected_namespaces=(),
        defer_build=True,
    )


class _Answer(BaseModel):
    """Base of the response models: dumped with camelCase aliases, None left out."""

    model_config = ConfigDict(populate_by_name=True, protected_namespaces=(), defer_build=True)


class _AnswerWithUrl(_Answer):
    """An answer with the seed's ``url`` field: always in the JSON, ``null`` when unknown.

    Subclasses declare ``url: str | None`` (in their own field order). The seed's
    answers have ``url``, so a caller may read it without checking for it; the
    answers' "None left out" dump must not drop it. ``url`` is None only when the
    model's URL cannot be predicted (ModelMesh or an unknown deployment mode) and
    KServe has not reported one.
    """

    @model_serializer(mode="wrap")
    def _keep_url(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        # Missing only when it was None and the dump leaves None out.
        data.setdefault("url", None)
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # A wrap serializer makes pydantic describe the answer by the function's
        # return type (any dict); the fields, with ``url`` required and nullable,
        # are the exact description, so it is generated without the serializer.
        fields_only = {key: value for key, value in schema.items() if key != "serialization"}
        return handler(cast(core_schema.CoreSchema, fields_only))


class ModelFormat(_Model):
    """``spec.predictor.model.modelFormat``: which ServingRuntime can serve the model."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=63)]
    version: Annotated[str, StringConstraints(min_length=1, max_length=63)] | None = None


class ResourceRequirements(_Model):
    """Container resources; ``nvidia.com/gpu`` requests GPUs."""

    requests: dict[ResourceName, Quantity] = Field(default_factory=dict)
    limits: dict[ResourceName, Quantity] = Field(default_factory=dict)


class Toleration(_Model):
    """A pod toleration, as in the Kubernetes pod spec."""

    model_config = ConfigDict(json_schema_extra=TOLERATION_RULES)

    key: LabelKey | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX)] | None = Field(
        default=None, alias="tolerationSeconds"
    )


class AutoPromote(_Model):
    """``canary.autoPromote``: finish the canary without a caller (Standard mode).

    Promoted once KServe has reported it Ready (``CanaryPredictorReady``) for
    ``afterSeconds``; aborted as soon as its pods fail (a crash loop, an image
    that cannot be pulled, a pod no node takes).
    """

    after_seconds: Annotated[int, Field(ge=0, le=86400)] = Field(alias="afterSeconds")


class CanaryRequest(_Model):
    """``canary`` of a deploy: a second predictor taking ``trafficPercent`` of the traffic.

    Only the fields that differ from the stable predictor (the deploy's own
    fields) are given; the rest is the stable predictor's. ``envs`` and
    ``resources``, when given, replace the stable ones whole (a canary that
    drops an env var says so by leaving it out). 1-99: 0 would be no canary,
    100 a promotion, which ``POST …/promote`` does.
    """

    model_config = ConfigDict(json_schema_extra=CANARY_CHANGES)

    traffic_percent: Annotated[int, Field(ge=1, le=99)] = Field(alias="trafficPercent")
    image: Image | None = None
    envs: dict[EnvName, str] | None = None
    resources: ResourceRequirements | None = None
    storage_uri: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = Field(
        default=None, alias="storageUri"
    )
    auto_promote: AutoPromote | None = Field(default=None, alias="autoPromote")


class DeployRequest(_Model):
    """The body of ``POST /deploy``.

    Either ``image`` (a custom-container predictor, the seed's only kind) or
    ``modelFormat`` (a model served by a KServe ServingRuntime, usually with
    ``storageUri``) must be given.
    """

    model_config = ConfigDict(
        json_schema_extra={
            **DEPLOY_RULES,
            "examples": [
                {"name": "iris", "image": "registry.example.com/team/iris:v1"},
                {
                    "name": "sklearn-iris",
                    "modelFormat": {"name": "sklearn"},
                    "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
                },
            ],
        }
    )

    name: Name
    image: Image | None = None
    envs: dict[EnvName, str] = Field(default_factory=dict)
    namespace: Namespace = "default"
    storage_uri: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = Field(
        default=None, alias="storageUri"
    )
    model_format: ModelFormat | None = Field(default=None, alias="modelFormat")
    runtime: Subdomain | None = None
    resources: ResourceRequirements | None = None
    min_replicas: Annotated[int, Field(ge=0, le=INT32_MAX)] | None = Field(
        default=None, alias="minReplicas"
    )
    max_replicas: Annotated[int, Field(ge=1, le=INT32_MAX)] | None = Field(
        default=None, alias="maxReplicas"
    )
    scale_target: Annotated[int, Field(ge=1, le=INT32_MAX)] | None = Field(
        default=None, alias="scaleTarget"
    )
    scale_metric: ScaleMetric | None = Field(
        default=None,
        alias="scaleMetric",
        description=(
            "cpu or memory in Standard mode, concurrency or rps in Knative mode; "
            "without deploymentMode, the cluster's default mode decides (KServe answers 422)"
        ),
    )
    canary_traffic_percent: Annotated[int, Field(ge=0, le=100)] | None = Field(
        default=None, alias="canaryTrafficPercent"
    )
    args: list[str] | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    service_account_name: Subdomain | None = Field(default=None, alias="serviceAccountName")
    node_selector: dict[LabelKey, LabelValue] | None = Field(default=None, alias="nodeSelector")
    tolerations: list[Toleration] | None = None
    labels: dict[CallerKey, LabelValue] = Field(default_factory=dict)
    annotations: dict[CallerKey, str] = Field(default_factory=dict)
    deployment_mode: DeploymentMode | None = Field(default=None, alias="deploymentMode")
    auto_update: bool = Field(default=False, alias="autoUpdate")
    canary: CanaryRequest | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "DeployRequest":
        host = f"{self.name}{PREDICTOR_HOST_SUFFIX}{self.namespace}"
        if len(host) > HOST_LABEL_MAX:
            raise ValueError(
                f"name: too long for this namespace: KServe's host label '{host}' would be "
                f"{len(host)} characters, at most {HOST_LABEL_MAX} are allowed"
            )
        if self.image is None and self.model_format is None:
            raise ValueError("image: required (or modelFormat, for a ServingRuntime predictor)")
        if self.image is not None and self.model_format is not None:
            raise ValueError("image: give either image or modelFormat, not both")
        if (
            self.min_replicas is not None
            and self.max_replicas is not None
            and self.max_replicas < self.min_replicas
        ):
            raise ValueError(
                f"maxReplicas: {self.max_replicas} is below minReplicas {self.min_replicas}"
            )
        allowed = SCALE_METRICS.get(self.deployment_mode or "")
        if self.scale_metric is not None and allowed and self.scale_metric not in allowed:
            raise ValueError(
                f"scaleMetric: KServe scales a {self.deployment_mode}-mode model by "
                f"{' or '.join(allowed)}, not {self.scale_metric}"
            )
        for index, toleration in enumerate(self.tolerations or ()):
            _check_toleration(index, toleration)
        if self.canary is not None:
            _check_canary(self, self.canary)
        return self

    def canary_request(self) -> "DeployRequest | None":
        """The canary's predictor as a whole deploy request: stable's fields, canary's changes.

        None without a canary. The result has no ``canary`` itself.
        """
        if self.canary is None:
            return None
        canary = self.canary
        changes: dict[str, Any] = {"canary": None}
        if canary.image is not None:
            changes["image"] = canary.image
        if canary.envs is not None:
            changes["envs"] = dict(canary.envs)
        if canary.resources is not None:
            changes["resources"] = canary.resources
        if canary.storage_uri is not None:
            changes["storage_uri"] = canary.storage_uri
        return self.model_copy(update=changes)


def _check_canary(stable: DeployRequest, canary: CanaryRequest) -> None:
    """Refuse a canary KServe could not run or that would change nothing."""
    if stable.canary_traffic_percent is not None:
        raise ValueError(
            "canary: give either canary or canaryTrafficPercent, not both "
            "(canary.trafficPercent is the canary's share)"
        )
    if stable.deployment_mode == "ModelMesh":
        raise ValueError("canary: ModelMesh models have no canary in KServe")
    if canary.auto_promote is not None and stable.deployment_mode in {"Knative", "Serverless"}:
        raise ValueError(
            "canary.autoPromote: only for Standard-mode canaries; promote a Knative "
            "canary with POST /models/{namespace}/{name}/promote"
        )
    # KServe names the canary's Service "{name}-canary-predictor", a host label too.
    host = f"{stable.name}-{CANARY_PREDICTOR_NAME}{PREDICTOR_HOST_SUFFIX}{stable.namespace}"
    if len(host) > HOST_LABEL_MAX:
        raise ValueError(
            f"name: too long for a canary in this namespace: KServe's host label '{host}' "
            f"would be {len(host)} characters, at most {HOST_LABEL_MAX} are allowed"
        )
    if canary.image is not None and stable.image is None:
        raise ValueError(
            "canary.image: the stable predictor serves a modelFormat, not an image; "
            "change storageUri for a new model version"
        )
    unchanged = (
        (canary.image is None or canary.image == stable.image)
        and (canary.envs is None or dict(canary.envs) == dict(stable.envs))
        and (canary.resources is None or canary.resources == stable.resources)
        and (canary.storage_uri is None or canary.storage_uri == stable.storage_uri)
    )
    if unchanged:
        raise ValueError(
            "canary: no change from the stable predictor; give the image, envs, resources "
            "or storageUri the canary runs"
        )
    if (
        stable.deployment_mode not in {"Knative", "Serverless"}
        and stable.model_format is None
        and stable.storage_uri is None
    ):
        # KServe's validator: "canary requires a stable predictor with a model".
        raise ValueError(
            "canary: KServe runs a canary only beside a stable predictor with a "
            "modelFormat or a storageUri"
        )


def _check_toleration(index: int, toleration: Toleration) -> None:
    """Refuse what the apiserver refuses in a pod's toleration.

    Checked here rather than on ``Toleration`` so the error can name the exact
    field (``tolerations.0.value``): a nested model's validator is reported at the
    toleration itself.
    """
    if toleration.operator == "Exists" and toleration.value:
        raise ValueError(
            f"tolerations.{index}.value: must be empty when operator is Exists "
            "(Exists matches any value of the key)"
        )
    if not toleration.key and toleration.operator != "Exists":
        raise ValueError(
            f"tolerations.{index}.operator: must be Exists when key is empty "
            "(a toleration without a key matches every taint)"
        )


class DeployResponse(_AnswerWithUrl):
    """The answer of ``POST /deploy`` (201 created, 200 updated, 202 still rolling out)."""

    name: str
    namespace: str
    action: Literal["created", "updated"]
    status: Literal["success"] = "success"
    url: str | None
    generation: int | None = None
    ready: bool
    # Present (true) only on a dry run, so the seed's answer shape is unchanged otherwise.
    dry_run: bool | None = Field(default=None, alias="dryRun")
    # The model's history entry this change made (``GET …/revisions``); absent on a
    # dry run, and when the entry could not be written (recording is best effort).
    revision: int | None = None


ModelState = Literal["starting", "ready", "updating", "failed", "stopped", "deleting"]
"""Where a model is, in one word (``status.model_state``): ``starting`` (not served
yet, nothing wrong so far), ``ready``, ``updating`` (a new spec rolls out while the
previous one serves), ``failed`` (it cannot become ready without a change: a failed
load, a crash loop, an image that cannot be pulled, a pod no node can take),
``stopped`` (KServe's ``serving.kserve.io/stop``), ``deleting``."""


class ModelSummary(_AnswerWithUrl):
    """One model in ``GET /models``."""

    name: str
    namespace: str
    url: str | None
    ready: bool
    state: ModelState
    generation: int | None = None
    image: str | None = None
    model_format: str | None = Field(default=None, alias="modelFormat")
    reason: str | None = None
    message: str | None = None
    created_at: str | None = Field(default=None, alias="createdAt")
    runtime: str | None = None
    deployment_mode: str | None = Field(default=None, alias="deploymentMode")
    changed_by: str | None = Field(
        default=None,
        alias="changedBy",
        description="Who made the last change through this API (its audit annotation)",
    )
    changed_at: str | None = Field(
        default=None, alias="changedAt", description="When (RFC 3339, UTC), as changedBy"
    )


class ModelList(_Answer):
    """The answer of ``GET /models``; ``continue`` pages on (apiserver pagination)."""

    models: list[ModelSummary]
    count: int
    continue_token: str | None = Field(default=None, alias="continue")


class Condition(_Answer):
    """One status condition of an InferenceService."""

    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = Field(default=None, alias="lastTransitionTime")


class TrafficTarget(_Answer):
    """Where the predictor's traffic goes (Knative mode)."""

    revision_name: str | None = Field(default=None, alias="revisionName")
    percent: int | None = None
    latest_revision: bool | None = Field(default=None, alias="latestRevision")
    tag: str | None = None


class PredictorView(_Answer):
    """One side of a canary roll-out in the detail view (``stable`` or ``canary``).

    ``name`` is KServe's predictor name (the canary entry's ``predictor.name``;
    None for the stable predictor unless named). ``trafficPercent`` is the share
    it serves; ``ready`` what KServe reports for it (the model's ``PredictorReady``
    for the stable one; ``CanaryPredictorReady`` / ``canaryStatuses`` or the
    Knative revision for the canary), None when KServe has said nothing yet.
    """

    name: str | None = None
    image: str | None = None
    storage_uri: str | None = Field(default=None, alias="storageUri")
    traffic_percent: int | None = Field(default=None, alias="trafficPercent")
    ready: bool | None = None
    revision: str | None = None


class ModelDetail(ModelSummary):
    """The answer of ``GET /models/{namespace}/{name}``."""

    observed_generation: int | None = Field(default=None, alias="observedGeneration")
    conditions: list[Condition] = Field(default_factory=list)
    latest_created_revision: str | None = Field(default=None, alias="latestCreatedRevision")
    latest_ready_revision: str | None = Field(default=None, alias="latestReadyRevision")
    traffic: list[TrafficTarget] = Field(default_factory=list)
    model_status: dict[str, Any] | None = Field(default=None, alias="modelStatus")
    envs: dict[str, str] = Field(default_factory=dict)
    resources: dict[str, Any] | None = None
    storage_uri: str | None = Field(default=None, alias="storageUri")
    min_replicas: int | None = Field(default=None, alias="minReplicas")
    max_replicas: int | None = Field(default=None, alias="maxReplicas")
    canary_traffic_percent: int | None = Field(default=None, alias="canaryTrafficPercent")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    # Present only while a canary runs: both sides of the traffic split.
    stable: PredictorView | None = None
    canary: PredictorView | None = None


class ModelEvent(_Answer):
    """One Kubernetes Event about a model or what KServe made for it."""

    type: str | None = None
    reason: str | None = None
    message: str | None = None
    object: str = Field(description="The object it is about, as Kind/name (Pod/iris-predictor-…)")
    count: int | None = None
    first_time: str | None = Field(default=None, alias="firstTime")
    last_time: str | None = Field(default=None, alias="lastTime")
    reporter: str | None = None


class ModelEvents(_Answer):
    """The answer of ``GET /models/{namespace}/{name}/events``: newest first."""

    events: list[ModelEvent]
    count: int


class ModelRevision(_Answer):
    """One entry of a model's history (``GET /models/{namespace}/{name}/revisions``)."""

    revision: int
    by: str | None = Field(default=None, description="Who asked: a user, or an event's sender")
    at: str | None = Field(default=None, description="When (RFC 3339, UTC)")
    how: str | None = Field(default=None, description="The route or event that asked")
    generation: int | None = Field(
        default=None, description="The model's metadata.generation after the change"
    )
    action: str = Field(
        description="deploy, rollout, rollback, stop, resume (promote, abort: a canary's)"
    )
    rollback_of: int | None = Field(default=None, alias="rollbackOf")
    request: dict[str, Any] | None = Field(
        default=None,
        description="The deploy request that produced it (a rollback can re-apply it); "
        "null for a stop or resume",
    )
    change: dict[str, Any] | None = Field(
        default=None, description="For a registry-push rollout: the image before and after"
    )


class ModelRevisions(_Answer):
    """The answer of ``GET /models/{namespace}/{name}/revisions``: newest first."""

    revisions: list[ModelRevision]
    count: int


class ModelManifest(_Answer):
    """``GET /models/{namespace}/{name}/manifest``: the InferenceService as stored."""

    manifest: dict[str, Any] = Field(
        description="The InferenceService as the apiserver stores it, without managedFields"
    )


class ActionAccess(_Answer):
    """Whether the caller may do one action, and if not, why (the route's own 403)."""

    allowed: bool
    reason: str | None = None


class Access(_Answer):
    """``GET /access``: who the caller is and what they may do (for a console's buttons)."""

    authentication: Literal["kubernetes", "none"] = Field(
        description="none: callers are not authenticated (AUTH_MODE=none)"
    )
    user: str | None = Field(default=None, description="The caller's Kubernetes user name")
    namespaces: list[str] | None = Field(
        default=None,
        description="The namespaces whose models the caller may list; absent: every namespace",
    )
    namespace: str | None = None
    actions: dict[str, ActionAccess] = Field(
        default_factory=dict,
        description="With namespace: each action (deploy, rollback, stop, resume, promote, "
        "abort, delete, get, watch, list, logs, events, revisions) there",
    )


class RollbackRequest(_Model):
    """The body of ``POST /models/{namespace}/{name}/rollback`` (optional)."""

    revision: Annotated[int, Field(ge=1, le=INT64_MAX)] | None = None


class DeleteResponse(_Answer):
    """The answer of ``DELETE /models/{namespace}/{name}``."""

    name: str
    namespace: str
    status: Literal["deleted"] = "deleted"


class HealthResponse(_Answer):
    """The answer of ``GET /health``: each check is ``ok`` or says what failed."""

    status: Literal["healthy", "unhealthy"]
    checks: dict[str, str]


class ValidationIssue(_Answer):
    """One invalid field of a request (in a 422 problem's ``errors``)."""

    field: str
    message: str


class Problem(_Answer):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ValidationIssue] | None = None
    # Set as the answer leaves (``app``): the request's X-Request-Id, to quote when reporting it.
    request_id: str | None = Field(
        default=None,
        alias="requestId",
        description="The request's id (its X-Request-Id header), as the log lines name it",
    )
