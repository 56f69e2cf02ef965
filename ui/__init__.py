"""The Gradio front end. Only this package imports gradio."""
