# reusable Annotated types and a model_validator for input (another way to write the same rules)
from typing import Annotated

from pydantic import model_validator

Temperature = Annotated[float, Field(ge=0, le=2)]
TopP = Annotated[float, Field(gt=0, le=1)]
Count = Annotated[int, Field(ge=0)]
Finish = Literal["length", "stop"]


class GenerateRequest(BaseModel):
    prompt: Annotated[str, Field(min_length=1)]
    max_tokens: Annotated[int, Field(ge=1)] = 16
    temperature: Temperature = 1.0
    top_p: TopP = 1.0
    seed: Optional[int] = None


class GenerateResponse(BaseModel):
    text: str
    finish_reason: Finish
    prompt_tokens: Count
    completion_tokens: Count


class ChatMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str


class ChatCompletionRequest(BaseModel):
    model: str
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    max_tokens: Optional[Annotated[int, Field(ge=1)]] = None
    temperature: Temperature = 1.0
    top_p: TopP = 1.0
    seed: Optional[int] = None
    stream: bool = False


class UsageInfo(BaseModel):
    prompt_tokens: Count
    total_tokens: Count
    completion_tokens: Count = 0


class ChatChoice(BaseModel):
    message: ChatMessage
    finish_reason: Finish
    index: int = 0


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

    @model_validator(mode="after")
    def _check_input(self):
        items = self.input if isinstance(self.input, list) else [self.input]
        if len(items) == 0 or min(len(t) for t in items) == 0:
            raise ValueError("input must be a non-empty string or a non-empty list of non-empty strings")
        return self


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
    code: int
    param: Optional[str] = None


class ErrorResponse(BaseModel):
    error: ErrorInfo
