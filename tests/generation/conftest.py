import io

import PIL.Image


def png_bytes(image: PIL.Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def mask_png(size=(64, 64), box=(16, 16, 48, 48)) -> bytes:
    """A DALL·E-style mask: opaque everywhere, transparent (= repaint) inside `box`."""
    mask = PIL.Image.new("RGBA", size, (0, 0, 0, 255))
    if box:
        mask.paste((0, 0, 0, 0), box)
    return png_bytes(mask)
