from app.bootstrap import freeze_support_main

if __name__ == "__main__":
    freeze_support_main()
