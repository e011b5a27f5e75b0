# sampling bounds checked in field validators, Union[str, list[str]] input checked per case
class _Sampling(BaseModel):
    temperature: float = 1.0
    top_p: float = 1.0
    seed: Optional[int] = None

    @field_validator("temperature")
    @classmethod
    def _temperature(cls, v):
        if not 0.0 <= v <= 2.0:
            raise ValueError("temperature must be in [0, 2]")
        return v

    @field_validator("top_p")
    @classmethod
    def _top_p(cls, v):
        if not 0.0 < v <= 1.0:
            raise ValueError("top_p must be in (0, 1]")
        return v


class GenerateRequest(_Sampling):
    prompt: str
    max_tokens: int = 16

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v):
        if v == "":
            raise ValueError("prompt must not be empty")
        return v

    @field_validator("max_tokens")
    @classmethod
    def _max_tokens(cls, v):
        if v < 1:
            raise ValueError("max_tokens must be at least 1")
        return v


class GenerateResponse(BaseModel):
    text: str
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatCompletionRequest(_Sampling):
    model: str
    messages: list[ChatMessage]
    max_tokens: Optional[int] = None
    stream: bool = False

    @field_validator("messages")
    @classmethod
    def _messages(cls, v):
        if len(v) == 0:
            raise ValueError("messages must not be empty")
        return v

    @field_validator("max_tokens")
    @classmethod
    def _max_tokens(cls, v):
        if v is not None and v < 1:
            raise ValueError("max_tokens must be at least 1")
        return v


class UsageInfo(BaseModel):
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(ge=0)


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessage
    finish_reason: Literal["stop", "length"]


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: UsageInfo


class EmbeddingRequest(BaseModel):
    model: str
    input: Union[str, list[str]]
    encoding_format: Literal["float", "base64"] = "float"

    @field_validator("input")
    @classmethod
    def _input(cls, v):
        if isinstance(v, str):
            if not v:
                raise ValueError("input must not be empty")
        elif not v or not all(v):
            raise ValueError("input must be a non-empty list of non-empty strings")
        return v


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: Union[list[float], str]


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: UsageInfo


class ErrorInfo(BaseModel):
    message: str
    type: str
    param: Optional[str] = None
    code: int


class ErrorResponse(BaseModel):
    error: ErrorInfo
