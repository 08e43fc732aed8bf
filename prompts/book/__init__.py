"""The prompt book: chapters (Markdown files in `chapters/`) and their rendering.

- `chapters`: loading, order, previous/next, search within the book;
- `render`: Markdown → sanitised HTML with heading anchors, a table of contents, and
  the `prompt` / `steps` example blocks as structured data.

The site's views put these together with the catalog's modifier pages, the swatches
(`generation.swatches`) and gallery examples; this package imports no other app.
"""

from prompts.book.chapters import Book, BookError, Chapter, book_get, book_search
from prompts.book.render import (
    PromptExample,
    RenderedChapter,
    StepsExample,
    chapter_outline,
    chapter_render,
    markdown_render,
    steps_key,
)

__all__ = [
    "Book",
    "BookError",
    "Chapter",
    "PromptExample",
    "RenderedChapter",
    "StepsExample",
    "book_get",
    "book_search",
    "chapter_outline",
    "chapter_render",
    "markdown_render",
    "steps_key",
]
